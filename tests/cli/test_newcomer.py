"""What got in a newcomer's way: repeated --probe, metric and model listings, option errors, flags in help,
run folders that collide, Co-AVS balance and progress off a terminal."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from avsprobe.adapters.reference import bundled_checkpoint
from avsprobe.data.biaslab.world import build_world
from avsprobe.results import load_records
from tests.cli.test_app import run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("newcomer") / "w"
    build_world(root, clips=10, workers=1)
    return root


def test_repeated_probe_runs_every_probe(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["run", "--model", "oracle", "--probe", "intensity", "--probe", "negative", "--data",
                              str(world), "--limit", "1", "--out", str(tmp_path)], capsys)
    assert code == 0, out + err
    records = load_records(tmp_path / "oracle" / "intensity-negative")
    assert set(records.probe) == {"intensity", "negative"}


def test_metrics_lists_the_bias_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["metrics"], capsys)
    assert code == 0 and "intensity_gap" in out and "prior_corr" in out and "miou.canonical" in out
    code, out, _ = run_cli(["metrics", "intensity_gap"], capsys)
    assert code == 0 and "loudest minus" in out and "miou.canonical" not in out
    code, _, err = run_cli(["metrics", "intensity_ga"], capsys)
    assert code == 1 and "Did you mean 'intensity_gap'" in err


def test_models_lists_entry_point_adapters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    dist = tmp_path / "site" / "labmodel-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: labmodel\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[avsprobe.adapters]\nlabnet = labmodel.adapter:LabNet\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    from avsprobe.cli import console

    monkeypatch.setattr(console.stdout(), "width", 250)  # one table row per line
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0 and "labnet" in out and "labmodel.adapter:LabNet" in out


def test_an_unknown_model_option_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run", "--model", "ours", "--model-opt", "alpah=3", "--probe", "negative"], capsys)
    assert code == 1 and "has no option alpah" in err
    assert "it takes checkpoint, strategy, main, alpha, batch_frames" in err


def test_flags_show_no_value_type_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["synth", "--help"], ["train", "--help"], ["demo", "--help"]):
        code, out, _ = run_cli(command, capsys)
        assert code == 0 and ("--force" in out or "--retrain" in out)
        assert "<bool>" not in out


def test_distinct_models_get_distinct_folders_and_labels(world: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    retrained = tmp_path / "retrained"
    shutil.copytree(bundled_checkpoint("vanilla"), retrained)
    runs = tmp_path / "runs"
    common = ["--probe", "negative", "--data", str(world), "--limit", "1", "--out", str(runs)]
    assert run_cli(["run", "--model", "vanilla", *common], capsys)[0] == 0
    assert run_cli(["run", "--model", "vanilla", "--model-opt", f"checkpoint={retrained}", *common], capsys)[0] == 0
    folders = sorted(p.name for p in runs.iterdir())
    assert folders[0] == "vanilla" and folders[1].startswith("vanilla-checkpoint=retrained-") and len(folders) == 2
    code, out, err = run_cli(["report", str(runs), "--out", str(tmp_path / "rep"), "--format", "json"], capsys)
    assert code == 0, out + err
    labels = [r["model"] for r in json.loads((tmp_path / "rep/report.json").read_text())["runs"]]
    assert sorted(labels) == ["vanilla", "vanilla [checkpoint=retrained]"]


def test_two_prediction_folders_never_share_a_run_folder(world: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from avsprobe.adapters import resolve_model
    from avsprobe.runner import model_folder_name

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = (model_folder_name(resolve_model(f"predictions:{tmp_path / d}")) for d in ("a", "b"))
    assert first.startswith("predictions-dir=a-") and second.startswith("predictions-dir=b-") and first != second


def test_a_refused_demo_run_names_the_runs_flag(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avsprobe.adapters import resolve_model
    from avsprobe.data.source import open_data
    from avsprobe.errors import ConfigError
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.runner import run_models

    suite = ProbeSuite.single("negative")
    run_models([resolve_model("empty")], suite, open_data(world), [tmp_path / "r"], limit=1)
    with pytest.raises(ConfigError, match="Use another --runs"):
        run_models([resolve_model("empty")], suite, open_data(world, split="val"), [tmp_path / "r"], limit=1,
                   folder_flag="--runs")


def test_any_coavs_size_covers_the_level_pairs_evenly() -> None:
    from avsprobe.data.coavs import level_pair_schedule, schedule_summary

    levels = (-53.0, -47.0, -41.0, -35.0, -29.0, -23.0)
    for videos in (24, 36, 50, 450):
        schedule = level_pair_schedule(videos, levels, seed=0)
        for position in (0, 1):
            per_level = [sum(1 for p in schedule if p[position] == v) for v in levels]
            assert max(per_level) - min(per_level) <= 1, (videos, per_level)
        pairs = [schedule.count((a, b)) for a in levels for b in levels]
        assert max(pairs) - min(pairs) <= 1
    schedule = level_pair_schedule(24, levels, seed=0)
    assert max(a for a, _ in schedule) == -23.0  # source A reaches every level, not only the first four
    assert schedule_summary(schedule, levels) == ("24 of 36 level pairs used, each 1 times; each level of A used 4 "
                                                  "times, of B 4 times")


def test_progress_off_a_terminal_prints_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from avsprobe.cli.progress import PlainProgress, progress_bar

    with progress_bar("probing") as update:
        update(0, 3)  # stderr is captured, not a terminal: plain lines
    plain = PlainProgress(interval_s=0.05)
    task = plain.add_task("paper suite x 2 models", total=1000)
    for done in (0, 10, 20, 1000):
        plain.update(task, done, 1000)
        time.sleep(0.06)
    err = capsys.readouterr().err
    assert "probing: 0/3 (0 %)" in err
    lines = [line for line in err.splitlines() if line.startswith("paper suite x 2 models: ")]
    assert len(lines) == 4 and lines[-1].startswith("paper suite x 2 models: 1000/1000 (100 %)")
    assert "/s, elapsed 0:00:00, ETA 0:00:" in lines[2] and "…" not in err
