"""The upstream-model templates in ``examples/models/``, each run against a tiny *stand-in* package that this
test writes at the upstream import path with the upstream signatures (not the real model: no weights or
network here). What is checked is what a template hands over: layout, normalisation, frame size, audio
features and device, and the shape it returns."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters.check import _probed_batch
from avsprobe.audio.vggish import vggish_examples
from avsprobe.runner import prepare_batch

REPO = Path(__file__).resolve().parents[2]
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
RECORDER = """
SEEN = {}


def record(key, value):
    SEEN[key] = value
"""


@pytest.fixture()
def isolated_imports(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Upstream repositories use top-level names (config, model, torchvggish, mmcv): keep them out of the
    other tests."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in [n for n in sys.modules if n.split(".")[0] in ("config", "model", "torchvggish", "mmcv", "standin_log")]:
        del sys.modules[name]


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _template(name: str, cls: str) -> type:
    spec = importlib.util.spec_from_file_location(f"template_{name}", REPO / "examples" / "models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return getattr(module, cls)


def _check_hand_over(adapter, log) -> None:  # noqa: ANN001
    probed = _probed_batch(5, 64)
    batch = prepare_batch(probed, adapter.input_spec, "cpu")
    adapter.to("cpu")
    out = adapter.predict(batch)
    assert out.shape == (2, 5, 224, 224) and out.device.type == "cpu"
    images = log.SEEN["images"]
    assert images.shape == (10, 3, 224, 224)  # [B*T, C, 224, 224], clip-major as the upstream loaders
    # the frames were ImageNet-normalised: undoing it gives back [0, 1] pixels of the probed clip
    pixels = images[0].numpy() * IMAGENET_STD[:, None, None] + IMAGENET_MEAN[:, None, None]
    original = torch.nn.functional.interpolate(torch.from_numpy(probed[0].frames[0]).permute(2, 0, 1)[None].float()
                                               / 255, size=(224, 224), mode="bilinear", align_corners=False)[0]
    assert np.allclose(pixels, original.numpy(), atol=1e-5)
    log_mel = log.SEEN["log_mel"]
    assert log_mel.shape == (10, 1, 96, 64)  # the AVSBench audio_log_mel layout, per frame
    reference = vggish_examples([p.audio for p in probed], num_examples=5).reshape(10, 1, 96, 64)
    assert float((log_mel - reference).abs().max()) <= 1e-5


def test_tpavi_template_hands_over_what_avsbench_test_does(tmp_path: Path, isolated_imports: None) -> None:
    scripts = tmp_path / "AVSBench" / "avs_scripts" / "avs_s4"
    _write(tmp_path / "site", {"standin_log.py": RECORDER})
    _write(scripts, {
        "config.py": """
            class Namespace:
                pass

            cfg = Namespace()
            cfg.TRAIN = Namespace()
            cfg.TRAIN.FREEZE_AUDIO_EXTRACTOR = False
            cfg.TRAIN.PREPROCESS_AUDIO_TO_LOG_MEL = True
            cfg.TRAIN.PRETRAINED_VGGISH_MODEL_PATH = "../../pretrained_backbones/vggish-10086976.pth"
            """,
        "model/__init__.py": "",
        "model/PVT_AVSModel.py": """
            import torch
            from standin_log import record


            class Pred_endecoder(torch.nn.Module):  # stand-in: the upstream signature, a trivial body
                def __init__(self, channel=256, config=None, vis_dim=(64, 128, 320, 512), tpavi_stages=(),
                             tpavi_vv_flag=False, tpavi_va_flag=True):
                    super().__init__()
                    record("init", dict(channel=channel, stages=list(tpavi_stages), vv=tpavi_vv_flag, va=tpavi_va_flag))
                    self.scale = torch.nn.Parameter(torch.ones(1))

                def forward(self, x, audio_feature=None):
                    record("images", x.detach().cpu())
                    record("audio_feature", audio_feature.detach().cpu())
                    return self.scale * x.mean(1, keepdim=True), [], []
            """,
        "torchvggish/__init__.py": "",
        "torchvggish/vggish.py": """
            import torch
            from standin_log import record


            class VGGish(torch.nn.Module):  # stand-in for the frozen VGGish: the log-mel's band means
                def __init__(self, cfg, device=None):
                    super().__init__()
                    record("vggish_cfg", (cfg.TRAIN.FREEZE_AUDIO_EXTRACTOR, cfg.TRAIN.PREPROCESS_AUDIO_TO_LOG_MEL,
                                          cfg.TRAIN.PRETRAINED_VGGISH_MODEL_PATH))
                    self.device = device

                def forward(self, x):
                    record("log_mel", x.detach().cpu())
                    return x.mean(dim=(1, 2)).repeat(1, 2)  # [N, 128]
            """,
    })
    sys.path.insert(0, str(tmp_path / "site"))
    torch.save({"scale": torch.ones(1)}, tmp_path / "S4_pvt_best.pth")
    adapter = _template("tpavi", "TPAVI")(repo=str(tmp_path / "AVSBench"), checkpoint=str(tmp_path / "S4_pvt_best.pth"),
                                           vggish=str(tmp_path / "vggish.pth"))
    log = sys.modules["standin_log"]
    assert log.SEEN["init"] == {"channel": 256, "stages": [0, 1, 2, 3], "vv": False, "va": True}
    assert log.SEEN["vggish_cfg"] == (True, False, str(tmp_path / "vggish.pth"))  # frozen, no preprocessing
    assert adapter.input_spec.audio == "vggish_logmel" and adapter.input_spec.frame_size == (224, 224)
    _check_hand_over(adapter, log)
    assert log.SEEN["audio_feature"].shape == (10, 128)


def test_avsegformer_template_hands_over_what_its_test_does(tmp_path: Path, isolated_imports: None) -> None:
    _write(tmp_path / "site", {
        "standin_log.py": RECORDER,
        "mmcv/__init__.py": """
            import runpy
            from types import SimpleNamespace


            class Config:  # stand-in for mmcv.Config.fromfile: the config file's globals
                @staticmethod
                def fromfile(path):
                    return SimpleNamespace(**runpy.run_path(path))
            """,
    })
    _write(tmp_path / "AVSegFormer", {
        "config/s4/AVSegFormer_pvt2_s4.py": "model = dict(type='AVSegFormer', embed_dim=256)\n",
        "model/__init__.py": """
            import torch
            from standin_log import record


            class StandIn(torch.nn.Module):  # stand-in for the built AVSegFormer: forward(audio, frames)
                def __init__(self, **kwargs):
                    super().__init__()
                    record("built", kwargs)
                    self.scale = torch.nn.Parameter(torch.ones(1))

                def forward(self, audio, frames, vid_temporal_mask_flag=None):
                    record("log_mel", audio.detach().cpu())
                    record("images", frames.detach().cpu())
                    return self.scale * frames.mean(1, keepdim=True), None


            def build_model(type, **kwargs):
                assert type == "AVSegFormer"
                return StandIn(**kwargs)
            """,
    })
    sys.path.insert(0, str(tmp_path / "site"))
    torch.save({"scale": torch.ones(1)}, tmp_path / "ckpt.pth")
    adapter = _template("avsegformer", "AVSegFormer")(repo=str(tmp_path / "AVSegFormer"),
                                                     config="config/s4/AVSegFormer_pvt2_s4.py",
                                                     checkpoint=str(tmp_path / "ckpt.pth"))
    log = sys.modules["standin_log"]
    assert log.SEEN["built"] == {"embed_dim": 256}
    _check_hand_over(adapter, log)
