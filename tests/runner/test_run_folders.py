"""Run folders: identity, --limit as a selection, the data fingerprint, the lock, duplicates, failures that
stay local, read-only ground truth, missed loudness levels, permissions, and the report of such runs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from avsprobe.adapters import ModelAdapter, resolve_model
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.errors import ConfigError, DataError
from avsprobe.probes.suite import ProbeSuite, load_suite
from avsprobe.results import load_records, write_part
from avsprobe.runner import run_suite
from tests.cli.test_app import run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folders") / "w"
    build_world(root, clips=30, workers=2)
    return root


def _run(world: Path, out: Path, *, split: str = "test", limit: int | None = 4, model: str = "oracle",
         suite: ProbeSuite | None = None, **kw: object):  # noqa: ANN202
    return run_suite(resolve_model(model), suite or ProbeSuite.single("intensity"), open_data(world, split=split),
                     out, limit=limit, **kw)


def _sorted(records: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in records.columns if c not in ("pred_thumb", "tp_at", "pp_at")]
    return records[columns].sort_values(["job_index", "frame"]).reset_index(drop=True)


# --- identity -------------------------------------------------------------------------------------------------

def test_another_split_is_refused_naming_the_field(world: Path, tmp_path: Path) -> None:
    _run(world, tmp_path / "r")
    before = (tmp_path / "r/run.json").read_text()
    with pytest.raises(ConfigError, match="split differs: 'test' there, 'val' now"):
        _run(world, tmp_path / "r", split="val")
    assert (tmp_path / "r/run.json").read_text() == before  # not rewritten as val
    with pytest.raises(ConfigError, match="suite_fingerprint differs"):
        _run(world, tmp_path / "r", suite=ProbeSuite.single("negative"))


def test_a_larger_limit_extends_a_run_and_a_smaller_one_reports_on_the_subset(world: Path, tmp_path: Path) -> None:
    suite = load_suite("negative")
    _run(world, tmp_path / "grown", suite=suite, limit=3)
    summary = _run(world, tmp_path / "grown", suite=suite, limit=5)
    assert summary.resumed == 3 * 6 and summary.jobs == 5 * 6
    _run(world, tmp_path / "fresh", suite=suite, limit=5)
    grown, fresh = load_records(tmp_path / "grown"), load_records(tmp_path / "fresh")
    pd.testing.assert_frame_equal(_sorted(grown), _sorted(fresh))
    smaller = _run(world, tmp_path / "grown", suite=suite, limit=2)
    assert smaller.resumed == smaller.jobs == 2 * 6
    from avsprobe.report.compute import load_run

    run = load_run(tmp_path / "grown")
    assert run.records.sample_id.nunique() == 2 and len(load_records(tmp_path / "grown")) == len(fresh)


def test_changed_audio_under_the_same_metadata_refuses_a_resume(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(world, copy)
    _run(copy, tmp_path / "r", limit=2)
    clip = next(iter(sorted((copy / "biaslab").iterdir())))
    audio, rate = sf.read(clip / "audio.wav")
    sf.write(clip / "audio.wav", audio * 0.5, rate)
    with pytest.raises(ConfigError, match="data_files_fingerprint differs"):
        _run(copy, tmp_path / "r", limit=2)


def test_data_check_hash_prints_the_content_hash(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avsprobe.data.fingerprint import content_hash

    code, out, err = run_cli(["data", "check", str(world), "--hash"], capsys)
    assert code == 0, out + err
    assert f"content hash: {content_hash(world)}" in out


# --- the lock, part names and duplicates ---------------------------------------------------------------------------

def test_a_second_process_is_refused_while_a_run_holds_the_folder(world: Path, tmp_path: Path) -> None:
    from avsprobe.results import run_lock

    run_dir = tmp_path / "r"
    holder = subprocess.Popen(  # another process takes the lock and keeps it for a while
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from avsprobe.results import run_lock\n"
         "with run_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(30)", str(run_dir)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"  # type: ignore[union-attr]
        with pytest.raises(ConfigError, match="another avsprobe process is running in"):
            _run(world, run_dir)
    finally:
        holder.kill()
        holder.wait()
    with run_lock(run_dir):  # released when that process died
        pass
    _run(world, run_dir)


def test_duplicated_rows_are_refused_and_stale_temporaries_cleared(world: Path, tmp_path: Path) -> None:
    _run(world, tmp_path / "r", limit=2)
    parts = sorted((tmp_path / "r/parts").glob("part-*.parquet"))
    stale = tmp_path / "r/parts/.part-x.parquet.abcd.tmp.parquet"
    stale.write_bytes(b"half a part")
    _run(world, tmp_path / "r", limit=2)
    assert not stale.exists()
    shutil.copy(parts[0], tmp_path / "r/parts/part-copy.parquet")  # what two concurrent runs used to leave
    with pytest.raises(DataError, match="duplicated .* two runs wrote into this folder"):
        load_records(tmp_path / "r")
    names = {write_part(tmp_path / "p", [{"job_index": 0, "frame": 0}]).name for _ in range(3)}
    assert len(names) == 3


# --- failures stay local ------------------------------------------------------------------------------------------

def test_an_unreadable_clip_fails_alone_and_the_run_goes_on(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(world, copy)
    reader = open_data(copy).reader
    bad = reader.sample_ids()[1]  # type: ignore[attr-defined]
    frame = copy / "biaslab" / bad / "frames" / "2.png"
    frame.write_bytes(b"not a png")
    summary = _run(copy, tmp_path / "r", limit=4)
    records = load_records(tmp_path / "r")
    failed = records[records.status == "failed"]
    assert set(failed.sample_id) == {bad} and summary.failed == 7
    assert all(str(frame) in reason for reason in failed.reason)
    assert summary.ok + summary.not_applicable == 3 * 7


class _Cheat(ModelAdapter):
    """Writes into the ground truth it was handed."""

    name = "cheat"

    def predict(self, batch):  # noqa: ANN001, ANN201
        for probed in batch.truth:
            probed.expected_mask[...] = False
        b, t, _, h, w = batch.frames.shape
        return torch.full((b, t, h, w), -10.0)


def test_an_adapter_cannot_write_into_the_ground_truth(world: Path, tmp_path: Path) -> None:
    run_suite(_Cheat(), ProbeSuite.single("intensity"), open_data(world), tmp_path / "r", limit=2)
    records = load_records(tmp_path / "r")
    assert (records.status == "failed").all()
    assert records.reason.str.contains("read-only").all()


def test_a_run_with_every_clip_failed_reports_beside_a_healthy_one(world: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run_suite(_Cheat(), ProbeSuite.single("negative"), open_data(world), tmp_path / "runs/cheat/negative", limit=2)
    _run(world, tmp_path / "runs/oracle/negative", suite=ProbeSuite.single("negative"), limit=2)
    code, out, err = run_cli(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0, out + err
    content = json.loads((tmp_path / "rep/report.json").read_text())
    by_model = {r["model"]: r for r in content["runs"]}
    assert set(by_model) == {"cheat", "oracle"}
    assert by_model["cheat"]["metrics"] == {} and by_model["cheat"]["clips_evaluated"] == 0
    assert len(by_model["cheat"]["failed_clips"]) == 2
    assert by_model["oracle"]["metrics"]["fpr_silence"]["value"] == 0.0


# --- missed loudness levels ------------------------------------------------------------------------------------------

def test_a_missed_level_is_flagged_and_kept_out_of_its_metric(world: Path, tmp_path: Path) -> None:
    from avsprobe.metrics import bias
    from avsprobe.probes.audio_probes import IntensityProbe
    from avsprobe.types import AVSample

    n = 5 * 16000
    dc = np.full(n, 0.02, dtype=np.float32)  # a DC clip asked for -23 LUFS ends far below it
    mask = np.zeros((5, 8, 8), bool)
    mask[:, 2:5, 2:5] = True
    sample = AVSample("dc", np.zeros((5, 8, 8, 3), np.uint8), dc, mask, np.ones(5, bool))
    probe = IntensityProbe()
    loud = probe.apply(sample, probe.condition("-23LUFS"), np.random.default_rng(0)).applied
    quiet = probe.apply(sample, probe.condition("-53LUFS"), np.random.default_rng(0)).applied
    assert not loud["level_reached_ok"] and loud["loudness_lufs"] < -23.5
    assert quiet["level_reached_ok"] and abs(quiet["loudness_lufs"] + 53) < 0.5
    _run(world, tmp_path / "r", limit=6)
    records = load_records(tmp_path / "r")
    assert records[records.status == "ok"].applied.str.contains('"level_reached_ok": true').sum() > 0
    target = records[(records.condition_label == "-23LUFS") & (records.status == "ok")].sample_id.iloc[0]
    rows = (records.sample_id == target) & (records.condition_label == "-23LUFS")
    assert records.loc[rows, "level_reached_ok"].all()
    records.loc[rows, "level_reached_ok"] = False
    records.loc[rows, "iou"] = 0.0  # were it counted, -23 LUFS would drop
    levels = bias.miou_by_level(records)
    assert levels["-23LUFS"].value == 1.0 and bias.missed_levels(records) == {"-23LUFS": 1}
    assert levels["-23LUFS"].n_clips == levels["-29LUFS"].n_clips - 1


def test_level_metrics_count_only_the_clips_that_enter_them(world: Path, tmp_path: Path) -> None:
    from avsprobe.metrics import bias

    _run(world, tmp_path / "r", limit=8)
    records = load_records(tmp_path / "r")
    sounding = records[(records.condition_label == "-23LUFS") & (records.status == "ok")].sample_id.nunique()
    clips = records.sample_id.nunique()
    levels = bias.miou_by_level(records)
    # original counts the clips that enter a level (a silent clip enters none): the rows compare like with like
    entering = records[records.condition_label.str.endswith("LUFS") & (records.status == "ok")].sample_id.nunique()
    assert levels["original"].n_clips == entering < clips and levels["-23LUFS"].n_clips == sounding < clips


def test_fscore_has_a_clip_bootstrap_interval(world: Path, tmp_path: Path) -> None:
    from avsprobe.metrics.binary import BinaryFrameStats, canonical_fscore
    from avsprobe.report.compute import fscore_with_interval

    _run(world, tmp_path / "r", limit=8, model="loudness-gated-oracle")
    records = load_records(tmp_path / "r")
    rows = records[(records.status == "ok") & records.annotated & (records.condition_label == "-41LUFS")]
    value = fscore_with_interval(rows, resamples=200)
    assert value.ci_low <= value.value <= value.ci_high and value.ci_low < value.ci_high
    # one resample recomputed by hand: the clips drawn, their frames' curves pooled, the maximum
    rng = np.random.default_rng(0)
    clips = np.unique(rows.sample_id.to_numpy())
    draw = clips[rng.integers(0, len(clips), (200, len(clips)))[0]]
    picked = pd.concat([rows[rows.sample_id == c] for c in draw])
    stats = BinaryFrameStats(picked.intersection.to_numpy(), picked.pred_area.to_numpy(),
                             picked.expected_area.to_numpy(), int(picked.num_pixels.iloc[0]),
                             np.stack(picked.tp_at.to_numpy()).astype(np.int64),
                             np.stack(picked.pp_at.to_numpy()).astype(np.int64))
    first = canonical_fscore(stats)
    assert value.ci_low - 1e-9 <= first <= value.ci_high + 1e-9


# --- permissions ------------------------------------------------------------------------------------------------------

def test_written_files_honour_the_umask(world: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        _run(world, tmp_path / "r", limit=1)
        from avsprobe.fileio import atomic_dir

        with atomic_dir(tmp_path / "tree") as tmp:
            (tmp / "a").mkdir()
            (tmp / "a" / "f.txt").write_text("x")
    finally:
        os.umask(old)
    for path in [tmp_path / "r/run.json", *(tmp_path / "r/parts").glob("*.parquet")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE((tmp_path / "tree").stat().st_mode) == 0o755


def test_a_suite_name_cannot_leave_the_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("../../x", "/abs/olute", ".."):
        suite = tmp_path / "s.toml"
        suite.write_text(f'name = "{name}"\nversion = 1\nseed = 0\n[[probes]]\nprobe = "negative"\n')
        code, _, err = run_cli(["run", "--model", "empty", "--suite", str(suite), "--out", str(tmp_path / "o")], capsys)
        assert code == 1 and "suite name" in err and "cannot be used as a folder name" in err
    assert not (tmp_path / "o").exists() and not (tmp_path.parent / "x").exists()
    from avsprobe.runner import run_folder_name

    assert run_folder_name("..") == "_." and run_folder_name("a/../b") == "a_.._b"


def test_sigterm_stops_the_worker_pool(tmp_path: Path) -> None:
    """A process killed with SIGTERM while its pool works leaves no worker behind (train loads data this way)."""
    script = tmp_path / "pool.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "from avsprobe.cli.app import _raise_interrupted\n"
        "from avsprobe.parallel import parallel_map\n"
        "def slow(i):\n"
        "    open(os.path.join(sys.argv[1], f'worker-{os.getpid()}'), 'w').close()\n"
        "    time.sleep(60)\n"
        "signal.signal(signal.SIGTERM, _raise_interrupted)\n"
        "parallel_map(slow, list(range(4)), workers=2, chunksize=1)\n")
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=Path(__file__).parents[2])
    deadline = time.time() + 30
    while len(list(tmp_path.glob("worker-*"))) < 2 and time.time() < deadline:
        time.sleep(0.1)
    pids = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
    assert len(pids) == 2
    proc.terminate()
    proc.wait(timeout=30)
    time.sleep(0.5)
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    assert alive == []


def test_a_report_of_runs_given_by_a_dotdot_path_from_another_folder(world: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``avsprobe report ../runs/x`` finds the runs (before: "not a run folder", a part starting with "." read as
    hidden), and run.json stores the data folder absolute, so a report from elsewhere finds it."""
    import json
    import os

    from avsprobe.adapters import resolve_model
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.report.compute import find_run_folders
    from avsprobe.runner import run_suite

    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    relative_data = os.path.relpath(world, tmp_path / "work")
    run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), open_data(relative_data), tmp_path / "runs" / "x",
              limit=1, workers=0)
    assert json.loads((tmp_path / "runs/x/run.json").read_text())["data_root"] == str(world.resolve())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert find_run_folders(Path("../runs")) == [Path("../runs/x")]


def test_a_folder_of_the_previous_records_format_is_not_resumed(world: Path, tmp_path: Path) -> None:
    """Format 4 held per-object values as JSON text: resuming one would mix two forms in one table."""
    _run(world, tmp_path / "r", limit=2, suite=ProbeSuite.single("negative"))
    info_file = tmp_path / "r" / "run.json"
    info = json.loads(info_file.read_text())
    assert info["records_format"] == 5
    info["records_format"] = 4
    info_file.write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="records format 4, now 5"):
        _run(world, tmp_path / "r", limit=3, suite=ProbeSuite.single("negative"))
