"""Scale: identical records whatever the number of probe workers, ranks or shards; resuming with another
number of shards after one was killed; incomplete sharded runs flagged by the report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.probes.suite import ProbeSuite, load_suite
from avsprobe.results import load_records
from avsprobe.runner import run_suite
from tests.cli.test_app import run_cli
from tests.conftest import built_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_world(tmp_path_factory, "scale", 30)


def _same_records(a: pd.DataFrame, b: pd.DataFrame) -> None:
    columns = [c for c in a.columns if c not in ("tp_at", "pp_at")]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    assert all(np.array_equal(x, y) for x, y in zip(a.tp_at, b.tp_at, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a.pp_at, b.pp_at, strict=True))


def test_records_read_back_the_same_whatever_the_part_boundaries(tmp_path: Path) -> None:
    """Rows without a threshold curve or thumbnail (a condition that does not apply) read back with None
    there, whether their part has scored rows or not: a sharded run splits rows into other parts than one
    process does, and its records must still be equal."""
    from avsprobe.results import write_part

    def row(job: int, scored: bool) -> dict:
        base = {"job_index": job, "frame": 0, "sample_id": f"clip{job}", "condition_id": "c", "status": "ok"}
        if not scored:
            return {**base, "status": "not_applicable"}
        return {**base, "intersection": 3, "tp_at": np.arange(255, dtype=np.int32), "pp_at": np.ones(255, np.int32),
                "original_tp_at": np.zeros(255, np.int32), "pred_thumb": bytes(512)}

    rows = [row(0, True), row(1, False), row(2, False)]
    write_part(tmp_path / "one", rows)
    write_part(tmp_path / "split", rows[:2])
    write_part(tmp_path / "split", rows[2:])  # a part of rows that were never scored
    one, split = load_records(tmp_path / "one"), load_records(tmp_path / "split")
    for records in (one, split):
        for column in ("tp_at", "pp_at", "original_tp_at", "pred_thumb"):
            assert records[column].iloc[1] is None and records[column].iloc[2] is None, column
        assert np.isnan(records["intersection"].iloc[2])
    _same_records(one, split)


def test_records_are_identical_for_any_number_of_probe_workers(world: Path, tmp_path: Path) -> None:
    source = open_data(world)
    suite = load_suite("paper")
    for workers in (0, 1, 2):
        run_suite(resolve_model("loudness-gated-oracle"), suite, source, tmp_path / f"w{workers}", limit=3,
                  workers=workers, batch_size=4)
    reference = load_records(tmp_path / "w0")
    assert len(reference) > 0 and set(reference.probe) == {"intensity", "semantic", "mix", "negative", "swap", "area"}
    for workers in (1, 2):
        _same_records(reference, load_records(tmp_path / f"w{workers}"))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "avsprobe", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_one_process_two_torchrun_ranks_and_two_shards_record_the_same(world: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # a real CPU model, whose float results move with its threads: the runs pin them (--threads 1 here, so two
    # ranks do not oversubscribe 2 cores; a run's default is the machine's cores whatever OMP_NUM_THREADS says)
    common = ["--model", "ours", "--suite", "paper", "--limit", "4", "--data", str(world), "--workers", "0",
              "--threads", "1"]
    assert run_cli(["run", *common, "--out", str(tmp_path / "one")], capsys)[0] == 0
    ranks = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            "-m", "avsprobe", "run", *common, "--out", str(tmp_path / "ranks")],
                           capture_output=True, text=True, env=_env(), timeout=300)
    assert ranks.returncode == 0, ranks.stdout + ranks.stderr
    for i in (0, 1):
        code, out, err = run_cli(["run", *common, "--shard", f"{i}/2", "--out", str(tmp_path / "shards")], capsys)
        assert code == 0 and f"(shard {i}/2)" in out, out + err
    one = load_records(tmp_path / "one/ours/paper")
    for other in ("ranks", "shards"):
        folder = tmp_path / other / "ours/paper"
        parts = sorted(p.name for p in (folder / "parts").glob("*.parquet"))
        assert any(p.startswith("part-s0of2-") for p in parts) and any(p.startswith("part-s1of2-") for p in parts)
        _same_records(one, load_records(folder))
    import json

    info = json.loads((tmp_path / "ranks/ours/paper/run.json").read_text())
    assert set(info["peak_rss_mb_by_shard"]) == {"0/2", "1/2"} and all(v > 0 for v in info["peak_rss_mb_by_shard"].values())
    assert json.loads((tmp_path / "one/ours/paper/run.json").read_text())["peak_rss_mb"] > 0


def test_a_killed_shard_resumes_with_another_shard_count(world: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    adapter = tmp_path / "slow.py"
    adapter.write_text(
        "import time\nimport torch\nfrom avsprobe.adapters.testing import OracleAdapter\n\n"
        "class SlowOracle(OracleAdapter):\n    name = 'slow-oracle'\n\n    def predict(self, batch):\n"
        "        time.sleep(0.3)\n        return super().predict(batch)\n")
    common = ["--model", f"{adapter}:SlowOracle", "--suite", "negative", "--data", str(world), "--workers", "0",
              "--batch-size", "1", "--out", str(tmp_path / "runs")]
    folder = tmp_path / "runs" / "slow-oracle" / "negative"
    killed = subprocess.Popen(_cli("run", *common, "--shard", "0/2"), env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(folder.glob("parts/part-s0of2-*.parquet")) and time.time() < deadline:
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    partial = load_records(folder)
    assert 0 < partial.drop_duplicates(["sample_id", "condition_id"]).shape[0] < 36
    # the report flags the run: shard 1 never ran and shard 0 was killed
    code, _, err = run_cli(["report", str(folder), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0 and "is incomplete" in err and "of 36 jobs recorded" in err
    report = (tmp_path / "rep/report.md").read_text()
    assert "## Incomplete runs" in report
    # three shards finish it: together with what shard 0 of 2 recorded, the same records as one process
    for i in range(3):
        assert run_cli(["run", *common, "--shard", f"{i}/3"], capsys)[0] == 0
    assert run_cli(["run", "--model", "oracle", *common[2:-1], str(tmp_path / "whole")], capsys)[0] == 0
    done, whole = load_records(folder), load_records(tmp_path / "whole/oracle/negative")
    _same_records(done.drop(columns=["model"]), whole.drop(columns=["model"]))
    code, _, err = run_cli(["report", str(folder), "--out", str(tmp_path / "rep2")], capsys)
    assert code == 0 and "incomplete" not in err


def test_shards_refuse_overlap(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avsprobe.errors import ConfigError
    from avsprobe.results import run_lock

    folder = tmp_path / "r"
    with run_lock(folder, (0, 2)):
        with pytest.raises(ConfigError, match="shard 0/2 is already running"):
            with run_lock(folder, (0, 2)):
                pass
        with pytest.raises(ConfigError, match="another number of shards"):
            with run_lock(folder, (1, 3)):
                pass
        with pytest.raises(ConfigError, match="another avsprobe process is running"):
            with run_lock(folder, None):
                pass
        with run_lock(folder, (1, 2)):  # the other shard of the same count runs beside it
            pass
    code, _, err = run_cli(["run", "--model", "empty", "--probe", "negative", "--data", str(world), "--shard", "2/2",
                            "--out", str(tmp_path / "x")], capsys)
    assert code == 1 and "--shard '2/2': use I/N with 0 <= I < N" in err
    suite = ProbeSuite.single("negative")
    summary = run_suite(resolve_model("empty"), suite, open_data(world), tmp_path / "s", shard=(1, 2))
    assert summary.jobs == 3 * 6  # clips 1, 3, 5 of the 6 test clips, 6 negative conditions


def test_restarting_shard_0_keeps_the_other_shards_entries(world: Path, tmp_path: Path) -> None:
    """run.json keeps each shard's peak memory when shard 0 starts again (before, shard 0 rewrote run.json and
    the other shards' entries were gone)."""
    import json

    source, suite = open_data(world), ProbeSuite.single("negative")
    for shard in ((0, 2), (1, 2), (0, 2)):
        run_suite(resolve_model("oracle"), suite, source, tmp_path / "r", limit=4, shard=shard, workers=0)
    memory = json.loads((tmp_path / "r" / "run.json").read_text())["peak_rss_mb_by_shard"]
    assert set(memory) == {"0/2", "1/2"}


def test_records_do_not_depend_on_threads_or_batch_size(world: Path, tmp_path: Path) -> None:
    """A CPU model predicts clip by clip with pinned threads: the ambient thread count (1 or 2, as torchrun or a
    shell would set it) and the batch size (3 or 8) leave the records unchanged (before, a CPU model's
    threshold counts moved with both)."""
    import torch

    source, suite = open_data(world), load_suite("paper")
    before = torch.get_num_threads()
    records = []
    try:
        for threads, batch in ((1, 3), (2, 8)):
            torch.set_num_threads(threads)
            run_suite(resolve_model("ours"), suite, source, tmp_path / f"t{threads}b{batch}", limit=4, batch_size=batch,
                      workers=0)
            records.append(load_records(tmp_path / f"t{threads}b{batch}"))
    finally:
        torch.set_num_threads(before)
    _same_records(records[0], records[1])


def test_a_resume_under_other_threads_is_refused(world: Path, tmp_path: Path) -> None:
    from avsprobe.errors import ConfigError

    source, suite = open_data(world), ProbeSuite.single("negative")
    run_suite(resolve_model("oracle"), suite, source, tmp_path / "r", limit=2, threads=1, workers=0)
    with pytest.raises(ConfigError, match="torch_threads differs: 1 there, 2 now"):
        run_suite(resolve_model("oracle"), suite, source, tmp_path / "r", limit=2, threads=2, workers=0)
