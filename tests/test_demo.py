"""``avsprobe demo`` end to end on a tiny default world: bundled checkpoints, and the retraining path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.cli.test_app import run_cli


@pytest.fixture()
def tiny_default_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from avsprobe.data.biaslab.spec import load_world_spec

    tiny = dataclasses.replace(load_world_spec(), split_clips={"train": 4, "val": 2, "test": 16})
    monkeypatch.setenv("AVSPROBE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("avsprobe.data.biaslab.world.load_world_spec", lambda path=None: tiny)


def test_demo_writes_the_report(tiny_default_world: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, runs = tmp_path / "report", tmp_path / "runs"
    code, stdout, err = run_cli(["demo", "--out", str(out), "--runs", str(runs), "--clips", "4", "--coavs-videos", "4"],
                                capsys)
    assert code == 0, err
    assert "report written to" in stdout
    content = json.loads((out / "report.json").read_text())
    paper = [r["model"] for r in content["runs"] if r["suite"]["name"] == "paper"]
    assert paper == ["vanilla", "ours-nodebias", "ours", "audio-blind:vanilla", "empty", "full"]
    coavs = [r for r in content["runs"] if r["suite"]["name"] == "negative"]
    assert [r["model"] for r in coavs] == ["vanilla on Co-AVS", "ours-nodebias on Co-AVS", "ours on Co-AVS"]
    assert "coavs_drop" in coavs[0]["metrics"]
    assert {"intensity_curves", "prior_bars"} <= set(content["figures"])
    full = next(r for r in content["runs"] if r["model"] == "full")
    assert full["metrics"]["fpr_silence"]["value"] == 1.0  # a known answer survives the whole pipeline
    # rerunning resumes every run and rewrites the same numbers
    first = (out / "report.json").read_text()
    code, _, err = run_cli(["demo", "--out", str(out), "--runs", str(runs), "--clips", "4", "--coavs-videos", "4"], capsys)
    assert code == 0, err
    assert _numbers(first) == _numbers((out / "report.json").read_text())
    # another Co-AVS size is another set and other runs, never the 4 videos again
    code, stdout, err = run_cli(["demo", "--out", str(out), "--runs", str(runs), "--clips", "4", "--coavs-videos", "8"],
                                capsys)
    assert code == 0, err
    assert json.loads((runs / "coavs-8" / "coavs.json").read_text())["videos"] == 8
    coavs = [r for r in json.loads((out / "report.json").read_text())["runs"] if r["suite"]["name"] == "negative"]
    assert {r["clips_total"] for r in coavs} == {8}


def _numbers(text: str) -> object:
    content = json.loads(text)
    return [(r["model"], r["suite"]["name"], r["metrics"]) for r in content["runs"]]


def test_demo_retrains_with_the_recipe(tiny_default_world: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["demo", "--retrain", "--epochs", "1", "--checkpoints", str(tmp_path / "ck"), "--out",
                            str(tmp_path / "rep"), "--runs", str(tmp_path / "runs"), "--clips", "1", "--coavs-videos", "2"],
                           capsys)
    assert code == 0, err
    for model in ("vanilla", "ours-nodebias", "ours", "visual-only"):
        assert (tmp_path / "ck" / model / "model.safetensors").is_file()
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith("ours-checkpoint=ours-"))
    assert len(folders) == 1  # a retrained checkpoint never shares the bundled model's folder
    run_info = json.loads((tmp_path / "runs" / folders[0] / "paper" / "run.json").read_text())
    assert run_info["model_options"]["checkpoint"] == str(tmp_path / "ck" / "ours")
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert "ours [checkpoint=ours]" in [r["model"] for r in report["runs"]]  # inferred as trained, as bundled
    # the recipe fits Phi with "no class" negatives, as the bundled checkpoints were
    for model in ("ours-nodebias", "ours"):
        settings = json.loads((tmp_path / "ck" / model / "config.json").read_text())["training"]["settings"]
        assert settings["phi_negatives"] is True
