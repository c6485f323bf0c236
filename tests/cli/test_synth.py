"""``avsprobe synth`` as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.cli.test_app import run_cli


def test_synth_writes_a_world_and_a_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lab"
    code, stdout, stderr = run_cli(["synth", "--out", str(out), "--clips", "6", "--preview", "--workers", "1"], capsys)
    assert code == 0, stdout + stderr
    assert "world written to" in stdout and "preview written to" in stdout
    assert (out / "world.json").is_file() and (out / "metadata.csv").is_file()
    with Image.open(out / "preview.png") as im:
        assert im.size[0] > 600 and im.size[1] > 200

    code, _, stderr = run_cli(["synth", "--out", str(out), "--clips", "6"], capsys)
    assert code == 1
    assert [line for line in stderr.splitlines() if line.strip()] == [
        f"error: {out} already exists; choose another --out or pass --force to replace it"]

    (out / "preview.png").unlink()
    code, stdout, _ = run_cli(["synth", "--out", str(out), "--preview"], capsys)
    assert code == 0 and "world written" not in stdout and (out / "preview.png").is_file()


def test_synth_bad_world_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["synth", "--out", str(tmp_path / "x"), "--world", str(tmp_path / "none.toml")], capsys)
    assert code == 1 and "world spec not found" in stderr
