"""The CLI on bad input: one red line naming the file or key, exit 1, never a traceback; Ctrl-C exits 130.

Each case is an input a careless or hostile user gave once and got a traceback (or a silent success) for.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsprobe.adapters.reference import bundled_checkpoint
from tests.cli.test_app import run_cli
from tests.conftest import built_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_world(tmp_path_factory, "bad", 10)


def one_error(result: tuple[int, str, str], *named: str) -> str:
    """The single ``error:`` line of a CLI call that must fail with exit 1, checked to name each of ``named``."""
    code, out, err = result
    assert "Traceback" not in out + err, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(errors) == 1, (code, out, err)
    for name in named:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def _checkpoint(tmp_path: Path, edit: object) -> Path:
    folder = tmp_path / "ckpt"
    shutil.copytree(bundled_checkpoint("vanilla"), folder)
    config = folder / "config.json"
    if isinstance(edit, str):
        config.write_text(edit)
    else:
        record = json.loads(config.read_text())
        edit(record)  # type: ignore[operator]
        config.write_text(json.dumps(record))
    return folder


@pytest.mark.parametrize(("edit", "named"), [
    ("{not json", "is not readable JSON"),
    (lambda r: r["config"].update(frame_size=0), "frame_size"),
    (lambda r: r["config"].update(num_heads=0), "num_heads must be positive"),
    (lambda r: r["config"].update(perception="magic"), "perception must be one of"),
    (lambda r: r.pop("mean"), "key 'mean'"),
])
def test_a_broken_checkpoint_config(edit: object, named: str, world: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = _checkpoint(tmp_path, edit)
    one_error(run_cli(["run", "--model", "vanilla", "--model-opt", f"checkpoint={folder}", "--probe", "negative",
                       "--data", str(world), "--limit", "1", "--out", str(tmp_path / "o")], capsys),
              str(folder / "config.json"), named)


@pytest.mark.parametrize("levels", ['"-23"', "-23", "[nan, -23.0]", "[-30.0, inf]", "[-23.0, 10.0]", '["a", "b"]'])
def test_suite_levels_that_are_not_a_list_of_finite_levels(levels: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(f'name = "s"\nversion = 1\nseed = 0\n[[probes]]\nprobe = "intensity"\nlevels_lufs = {levels}\n')
    one_error(run_cli(["run", "--model", "empty", "--suite", str(suite), "--out", str(tmp_path / "o")], capsys),
              "levels_lufs", "'intensity'")


@pytest.mark.parametrize(("old", "new", "named"), [
    ("sample_rate_hz = 16000", "sample_rate_hz = 0", "world.sample_rate_hz"),
    ("train = 640\nval = 160\ntest = 200", "train = 0\nval = 0\ntest = 0", "splits"),
    ("max_drift_px = 2.0", "max_drift_px = -1.0", "world.max_drift_px"),
    ("sounding_probability = 0.78", "sounding_probability = 1.5", "classes.piano.sounding_probability"),
    ("colour_jitter = 14", "colour_jitter = 14\ncolor_jitter = 3", "unknown key world.color_jitter"),
])
def test_a_bad_world_spec(old: str, new: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "world.toml"
    text = (REPO / "probes/worlds/biaslab.toml").read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))
    one_error(run_cli(["synth", "--world", str(spec), "--out", str(tmp_path / "w"), "--clips", "3"], capsys),
              str(spec), named)
    assert not (tmp_path / "w").exists()


def test_frames_of_different_sizes_fail_their_clip_naming_the_file(world: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "w"
    shutil.copytree(world, copy)
    clip = sorted(p for p in (copy / "biaslab").iterdir() if p.name.startswith("test_"))[0]
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(clip / "frames" / "3.png")
    code, out, err = run_cli(["run", "--model", "oracle", "--probe", "negative", "--data", str(copy), "--limit", "1",
                              "--out", str(tmp_path / "o")], capsys)
    # every job that ran failed: exit 1, the reason (the file) printed with its count, the records written
    assert code == 1 and str(clip / "frames" / "3.png") in out and "every job that ran failed" in err, out + err
    from avsprobe.results import load_records

    records = load_records(tmp_path / "o/oracle/negative")
    assert (records.status == "failed").all()
    assert records.reason.str.contains(str(clip / "frames" / "3.png")).all()
    assert records.reason.str.contains("frame is 30x20").all()


def test_damaged_records_and_run_json(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--model", "oracle", "--probe", "negative", "--data", str(world), "--limit", "1", "--out", str(tmp_path)]
    assert run_cli(args, capsys)[0] == 0
    run_dir = tmp_path / "oracle/negative"
    part = sorted((run_dir / "parts").glob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:100])
    one_error(run_cli(["report", str(run_dir), "--out", str(tmp_path / "rep")], capsys), str(part))
    one_error(run_cli(args, capsys), str(part))  # a resume reads the parts too
    (run_dir / "run.json").write_text('{"model": ')
    one_error(run_cli(args, capsys), str(run_dir / "run.json"), "damaged")


def test_out_model_being_a_file(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "oracle").write_text("not a folder")
    one_error(run_cli(["run", "--model", "oracle", "--probe", "negative", "--data", str(world), "--limit", "1",
                       "--out", str(tmp_path)], capsys), str(tmp_path / "oracle"))


def test_a_full_disk_names_the_file(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def full(run_dir: Path, rows: list, **_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "parts" / "part-x.parquet"))

    monkeypatch.setattr("avsprobe.runner.write_part", full)
    one_error(run_cli(["run", "--model", "oracle", "--probe", "negative", "--data", str(world), "--limit", "1",
                       "--out", str(tmp_path)], capsys), "no space left", "part-x.parquet")


def test_synth_force_on_a_symlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("x")
    (tmp_path / "link").symlink_to(precious)
    one_error(run_cli(["synth", "--out", str(tmp_path / "link"), "--clips", "3", "--force"], capsys),
              str(tmp_path / "link"), "symbolic link")
    assert (precious / "keep.txt").read_text() == "x"


def test_train_force_never_clears_a_folder_without_a_checkpoint(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("years of work")
    one_error(run_cli(["train", "--model", "vanilla", "--out", str(work), "--force", "--epochs", "1"], capsys),
              "--force clears only", str(work))
    assert (work / "thesis.tex").read_text() == "years of work"
    from avsprobe.reference.checkpoint import clear_training_folder

    ckpt = tmp_path / "ckpt"
    shutil.copytree(bundled_checkpoint("vanilla"), ckpt)
    (ckpt / "notes.txt").write_text("mine")
    clear_training_folder(ckpt)
    assert sorted(p.name for p in ckpt.iterdir()) == ["TRAINING.md", "notes.txt"]


@pytest.mark.parametrize(("body", "named"), [("return predicted.numpy()", "ndarray"), ("return None", "NoneType")])
def test_models_check_on_an_adapter_returning_no_tensor(body: str, named: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    adapter = tmp_path / "adapter.py"
    adapter.write_text(
        "import torch\nfrom avsprobe.adapters import ModelAdapter\n\n"
        "class Bad(ModelAdapter):\n    name = 'bad'\n\n    def predict(self, batch):\n"
        "        b, t, _, h, w = batch.frames.shape\n        predicted = torch.zeros(b, t, h, w)\n"
        f"        {body}\n")
    code, out, err = run_cli(["models", "check", f"{adapter}:Bad"], capsys)
    assert code == 1 and "Traceback" not in out + err
    assert f"FAIL  returns a torch.Tensor: predict returned {named}" in out


def test_device_cuda_without_cuda(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    one_error(run_cli(["run", "--model", "oracle", "--probe", "negative", "--data", str(world), "--device", "cuda",
                       "--out", str(tmp_path)], capsys), "--device cuda", "no CUDA")
    one_error(run_cli(["models", "check", "oracle", "--device", "cuda:0"], capsys), "no CUDA")
    one_error(run_cli(["run", "--model", "empty", "--probe", "negative", "--data", str(world), "--device", "gpu",
                       "--out", str(tmp_path)], capsys), "not a torch device")


def test_ctrl_c_exits_130_with_one_line_and_the_run_resumes(world: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "slow.py"
    marker = tmp_path / "started"
    adapter.write_text(
        "import time\nfrom pathlib import Path\nimport torch\nfrom avsprobe.adapters import ModelAdapter\n\n"
        "class Slow(ModelAdapter):\n    name = 'slow'\n\n    def predict(self, batch):\n"
        f"        Path({str(marker)!r}).touch()\n        time.sleep(0.5)\n"
        "        b, t, _, h, w = batch.frames.shape\n        return torch.zeros(b, t, h, w)\n")
    args = [sys.executable, "-m", "avsprobe", "run", "--model", f"{adapter}:Slow", "--probe", "negative", "--data",
            str(world), "--batch-size", "1", "--out", str(tmp_path / "o")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "interrupted; rerun the same command to resume" in err
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "0 failed" in done.stdout, done.stdout + done.stderr
