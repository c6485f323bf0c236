"""Issue 35: each model template in ``examples/models/`` against a checkout of its real upstream code, with random
weights written in the upstream formats (no pretrained weights are downloadable here).

For each template, in its own Python process (upstream code uses top-level names such as ``config`` and
``model``): write random weights as the upstream code saves and loads them, build the template as its docstring
says, and run ``avsprobe models check``'s checks on ``--device``. What cannot be set up (a missing upstream
dependency, a compiled op) is recorded with its error, as a result, not hidden.

    python scripts/check_templates.py --upstream UPSTREAM --device cuda --out reports/templates

``UPSTREAM`` holds one folder per upstream repository, named as on GitHub (``AVSBench``, ``AVSegFormer``,
``COMBO-AVS``, ``Generalizable-Audio-Visual-Segmentation``); each is a git checkout or holds a ``COMMIT`` file
naming its commit. Upstream needs (not avsprobe's): torchvision, timm, easydict, pyyaml, opencv-python; mmcv<2
and AVSegFormer's compiled ``MultiScaleDeformableAttention`` op; detectron2 for COMBO-AVS. Writes
``OUT/check-DEVICE.json`` and ``OUT/check-DEVICE.md``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

TEMPLATES = {
    "tpavi": ("TPAVI", "AVSBench"),
    "gavs": ("GAVS", "Generalizable-Audio-Visual-Segmentation"),
    "avsegformer": ("AVSegFormer", "AVSegFormer"),
    "combo_avs": ("COMBOAVS", "COMBO-AVS"),
}
"""template file -> (class, upstream repository folder)."""

REPO = Path(__file__).resolve().parents[1]


def _commit(repo: Path) -> str:
    if (repo / "COMMIT").is_file():
        return (repo / "COMMIT").read_text().strip()
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _random_vggish(path: Path) -> None:
    """Random weights in the converted torchvggish layout (``features.N`` / ``embeddings.N``)."""
    import torch

    from avsprobe.audio.vggish_net import VGGish

    torch.manual_seed(0)
    net = VGGish()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.01)
    torch.save(net.state_dict(), path)


def _setup_tpavi(repo: Path, tmp: Path) -> dict:
    import torch

    scripts = repo / "avs_scripts" / "avs_s4"
    sys.path.insert(0, str(scripts))
    pvt = importlib.import_module("model.pvt").pvt_v2_b5()
    torch.save(pvt.state_dict(), tmp / "pvt_v2_b5.pth")
    _random_vggish(tmp / "vggish.pth")
    cfg = importlib.import_module("config").cfg
    cfg.TRAIN.PRETRAINED_PVTV2_PATH = str(tmp / "pvt_v2_b5.pth")
    model = importlib.import_module("model.PVT_AVSModel").Pred_endecoder(
        channel=256, config=cfg, tpavi_stages=[0, 1, 2, 3], tpavi_vv_flag=False, tpavi_va_flag=True)
    torch.save(model.state_dict(), tmp / "S4_pvt_best.pth")  # train.py saves model.module.state_dict()
    sys.path.remove(str(scripts))
    return {"repo": str(repo), "checkpoint": str(tmp / "S4_pvt_best.pth"), "vggish": str(tmp / "vggish.pth"),
            "pvt": str(tmp / "pvt_v2_b5.pth")}


def _setup_gavs(repo: Path, tmp: Path) -> dict:
    import torch

    code = repo / "GAVS"
    template = _template_module("gavs")
    sys.path[:0] = [str(code / "segment_anything"), str(code)]
    template._import_upstream_config(code / "segment_anything" / "config.py", 9)
    torch.manual_seed(0)
    sam = importlib.import_module("build_sam").sam_model_registry["vit_b"](None)
    torch.save(sam.state_dict(), tmp / "sam_vit_b.pth")
    avs = importlib.import_module("avs_model").AVSM(model_v=sam, model_t=None,
                                                     config={"device": "cpu", "loss": None, "tune_v": 9})
    torch.save(avs.state_dict(), tmp / "epoch_59.pth")  # run_v1m_x.py saves AVSM.state_dict()
    _random_vggish(tmp / "vggish.pth")
    return {"repo": str(repo), "checkpoint": str(tmp / "epoch_59.pth"), "sam_checkpoint": str(tmp / "sam_vit_b.pth"),
            "vggish_weights": str(tmp / "vggish.pth")}


def _setup_avsegformer(repo: Path, tmp: Path) -> dict:
    import os

    import torch

    sys.path.insert(0, str(repo))
    # the configs name pretrained/... relative to the checkout, as the template's docstring says
    os.chdir(repo)
    (repo / "pretrained").mkdir(exist_ok=True)
    pvt = importlib.import_module("model.backbone.pvt").pvt_v2_b5(init_weights_path=None)
    torch.save(pvt.state_dict(), repo / "pretrained" / "pvt_v2_b5.pth")
    _random_vggish(repo / "pretrained" / "vggish-10086976.pth")
    config = "config/s4/AVSegFormer_pvt2_s4.py"
    cfg = importlib.import_module("mmcv").Config.fromfile(str(repo / config))
    model = importlib.import_module("model").build_model(**cfg.model)
    torch.save(model.state_dict(), tmp / "AVSegFormer_pvt2_s4.pth")  # train.py saves model.module.state_dict()
    return {"repo": str(repo), "config": config, "checkpoint": str(tmp / "AVSegFormer_pvt2_s4.pth")}


def _setup_combo_avs(repo: Path, tmp: Path) -> dict:
    importlib.import_module("detectron2")  # COMBO-AVS is a detectron2 project: nothing runs without it
    raise NotImplementedError("detectron2 is importable, but random COMBO-AVS weights are not written by this "
                              "script yet")


def _template_module(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(f"template_{name}", REPO / "examples" / "models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def check_one(name: str, upstream: Path, device: str) -> dict:
    """Set up one template against its upstream checkout and run the adapter checks; never raises."""
    cls_name, folder = TEMPLATES[name]
    repo = upstream / folder
    result: dict = {"template": f"examples/models/{name}.py:{cls_name}", "upstream": folder,
                    "commit": _commit(repo) if repo.is_dir() else "missing", "device": device}
    if not repo.is_dir():
        return {**result, "setup": f"no checkout at {repo}", "checks": []}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            options = globals()[f"_setup_{name}"](repo, Path(tmp))
            adapter = getattr(_template_module(name), cls_name)(**options)
        except Exception as exc:  # a result: what stops this upstream from running here
            last = traceback.extract_tb(exc.__traceback__)[-1]
            return {**result, "setup": f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})",
                    "checks": []}
        from avsprobe.adapters.check import check_adapter

        checks = check_adapter(adapter, device=device, timeout_s=600)
    return {**result, "setup": "ok", "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                                                for c in checks]}


def _versions() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _markdown(results: list[dict], versions: dict, command: str) -> str:
    lines = ["# Model templates against their upstream code (random weights)", "",
             f"Made by `{command}` with Python {versions['python']}, torch {versions['torch']}"
             + (f" on {versions['gpu']}" if versions["gpu"] else "") + ".", "",
             "| template | upstream @ commit | device | set up | checks passed | failed |", "|---|---|---|---|---|---|"]
    for r in results:
        passed = [c["name"] for c in r["checks"] if c["passed"]]
        failed = [f"{c['name']} ({c['detail']})" for c in r["checks"] if not c["passed"]]
        setup = "ok" if r["setup"] == "ok" else "no: " + r["setup"].replace("|", "/").replace("\n", " ")
        lines.append(f"| `{r['template']}` | {r['upstream']} @ {r['commit'][:7]} | {r['device']} | {setup} | "
                     f"{len(passed)}/{len(r['checks'])} | {'; '.join(failed) or '-'} |")
    lines += ["", "Details per check are in the JSON beside this file."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", default=",".join(TEMPLATES))
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child process: one template, its result as JSON on the last line
        print(json.dumps(check_one(args.one, args.upstream.resolve(), args.device)))
        return
    from avsprobe.fileio import atomic_write_text

    results = []
    for name in args.only.split(","):
        done = subprocess.run([sys.executable, __file__, "--one", name, "--upstream", str(args.upstream),
                               "--device", args.device], capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        try:
            results.append(json.loads(lines[-1]))
        except (IndexError, json.JSONDecodeError):
            results.append({"template": name, "upstream": TEMPLATES[name][1], "commit": "?", "device": args.device,
                            "setup": f"the check process died: {done.stderr.strip()[-300:]}", "checks": []})
        print(f"{name}: {results[-1]['setup']}", file=sys.stderr)
    versions = _versions()
    command = f"python scripts/check_templates.py --upstream UPSTREAM --device {args.device}"
    out = args.out or Path("reports/templates")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"check-{args.device}.json", json.dumps({"versions": versions, "results": results},
                                                                    indent=1) + "\n")
    atomic_write_text(out / f"check-{args.device}.md", _markdown(results, versions, command))
    print((out / f"check-{args.device}.md").read_text())


if __name__ == "__main__":
    main()
