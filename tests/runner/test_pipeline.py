"""The probing pipeline's spool transport: a chunk's arrays go through one file and come back equal, shared
where they were shared, and nothing is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from avsprobe import pipeline
from avsprobe.pipeline import ProbeOutcome, _spill, _unspill
from avsprobe.probes.base import ProbedSample


def _probed(frames: np.ndarray, seed: int) -> ProbedSample:
    rng = np.random.default_rng(seed)
    mask = rng.random((5, 6, 7)) > 0.5
    return ProbedSample(
        sample_id=f"clip{seed}", condition_id="negative/silence", audio=rng.standard_normal(1601).astype(np.float32),
        frames=frames, expected_mask=mask,
        # an empty array has the offset of the array after it: both must come back as themselves
        object_masks={"dog": ~mask, "empty": np.zeros((0, 6, 7), bool), "none": np.zeros((5, 6, 7), bool)},
        annotated=np.array([True, False, True, True, False]), applied={"gain_db": -3.5},
        expected_labels=rng.integers(-3, 300, (5, 6, 7)).astype(np.int16),
        original_mask=np.asfortranarray(mask))  # not C-contiguous: written in C order, read back equal


def test_spilled_outcomes_come_back_equal_and_shared(tmp_path: Path) -> None:
    frames = np.random.default_rng(9).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    expected = [_probed(frames, 1), _probed(frames, 2)]
    sent = [ProbeOutcome(i, "ok", "", "cat", "test", _probed(frames, i + 1)) for i in range(2)]
    sent.append(ProbeOutcome(2, "failed", "could not read", "", ""))
    path = _spill(sent, str(tmp_path))
    # what crosses the pipe is the arrays' places, not the arrays
    assert not any(isinstance(v, np.ndarray) for o in sent[:2] for v in vars(o.probed).values())
    back = _unspill(path, sent)
    assert not os.path.exists(path)
    for outcome, want in zip(back[:2], expected, strict=True):
        got = outcome.probed
        for name in ("audio", "frames", "expected_mask", "annotated", "expected_labels", "original_mask"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
            assert a.flags.writeable and a.ctypes.data % 64 == 0, name
        assert sorted(got.object_masks) == ["dog", "empty", "none"]
        assert all(np.array_equal(got.object_masks[k], want.object_masks[k]) for k in want.object_masks)
        assert got.applied == want.applied
    assert back[0].probed.frames is back[1].probed.frames  # one clip's frames, written and read once
    assert back[2].probed is None and back[2].reason == "could not read"


def _probe_both_ways(clips: int, chunk_size: int, workers: int) -> tuple[list, list, object]:
    """The negative suite's jobs of the bias lab's first ``clips`` clips probed by ``workers`` processes and
    in this process; and a function that starts the piped probing again."""
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import load_suite
    from avsprobe.runner import plan_jobs

    source = open_data(None)
    suite = load_suite("negative")
    plan = plan_jobs(suite, source, clips)
    jobs = dict(plan.jobs)
    chunks = [[i for i, _ in plan.jobs[s : s + chunk_size]] for s in range(0, len(plan.jobs), chunk_size)]
    again = lambda: pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=workers)  # noqa: E731
    piped = [o for chunk in again() for o in chunk]
    serial = [o for chunk in pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=0) for o in chunk]
    assert [o.index for o in piped] == [o.index for o in serial] and len(piped) == len(plan.jobs)
    for a, b in zip(piped, serial, strict=True):
        for name in ("audio", "frames", "expected_mask", "original_mask"):
            assert np.array_equal(getattr(a.probed, name), getattr(b.probed, name)), name
    return piped, serial, again


def test_a_run_leaves_no_spool_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers spill into a fresh folder under the spool root, removed when the run ends, also when the
    consumer stops early."""
    root = tmp_path / "spool-root"
    root.mkdir()
    monkeypatch.setattr(pipeline, "_spool_folder", lambda: str(Path(pipeline.tempfile.mkdtemp(dir=root))))
    _, _, again = _probe_both_ways(2, 3, workers=2)
    assert list(root.iterdir()) == []
    stopped = again()
    next(stopped)
    stopped.close()
    assert list(root.iterdir()) == []


def test_a_full_spool_falls_back_to_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a worker cannot write its spool file (no room), the chunk comes through the pipe, equal."""

    def full(outcomes: list, folder: str) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "_spill", full)
    _probe_both_ways(1, 2, workers=1)


class _SlowProbe:
    """A stand-in probe whose every job takes a while, so a worker can be killed mid-chunk."""

    name = "slow"

    def apply(self, sample, condition, rng):  # noqa: ANN001, ANN201
        import time

        time.sleep(0.3)
        return _probed(np.zeros((1, 4, 4, 3), np.uint8), 0)


class _Job:
    def __init__(self, sample_id: str) -> None:
        self.sample_id, self.probe, self.condition = sample_id, _SlowProbe(), None


class _Reader:
    def read(self, sample_id: str) -> object:
        import types

        return types.SimpleNamespace(frames=np.zeros((1, 4, 4, 3), np.uint8), category="", split="test")


class _Suite:
    def rng(self, sample_id: str, condition: object) -> np.random.Generator:
        return np.random.default_rng(0)


def test_a_killed_worker_ends_the_run_with_an_error_and_leaves_nothing(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 of a probe worker mid-run: the run stops with one clear error within seconds (a Pool waited for
    the lost chunk for ever), no worker process is left and the spool folder is gone."""
    import multiprocessing
    import signal
    import time

    from avsprobe.errors import DataError

    root = tmp_path / "spool-root"
    root.mkdir()
    monkeypatch.setattr(pipeline.tempfile, "gettempdir", lambda: str(root))
    monkeypatch.setattr(pipeline.os.path, "isdir", lambda p: False if p == "/dev/shm" else os.path.isdir(p))
    jobs = {i: _Job(f"s{i}") for i in range(40)}
    chunks = [[i, i + 1] for i in range(0, 40, 2)]
    stream = pipeline.probe_chunks(chunks, jobs, _Suite(), _Reader(), workers=1, prefetch=4)
    next(stream)
    workers = multiprocessing.active_children()
    assert workers and len(list(root.iterdir())) == 1
    os.kill(workers[0].pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(DataError, match="probe worker process died"):
        for _ in stream:
            pass
    assert time.monotonic() - start < 30
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
    assert list(root.iterdir()) == []


def test_spool_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = tmp_path / f"avsprobe-spool-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "chunk.bin").write_bytes(b"x" * 100)
    live = tmp_path / f"avsprobe-spool-{os.getpid()}-def"
    live.mkdir()
    other = tmp_path / "avsprobe-spool-notapid"
    other.mkdir()
    assert pipeline.remove_stale_spools(str(tmp_path)) == [str(stale)]
    assert not stale.exists() and live.exists() and other.exists()


_ORPHAN_SCRIPT = """
import sys, time, multiprocessing
sys.path.insert(0, {root!r})
from tests.runner.test_pipeline import _Job, _Reader, _Suite
from avsprobe import pipeline
jobs = {{i: _Job(f"s{{i}}") for i in range(200)}}
stream = pipeline.probe_chunks([[i] for i in range(200)], jobs, _Suite(), _Reader(), workers=1, prefetch=2)
next(stream)
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(60)
"""


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


def _gone(pid: int) -> bool:
    try:  # gone, or a zombie (dead, waiting to be reaped)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_no_worker_outlives_a_killed_run() -> None:
    """kill -9 of a probe worker, then of the run's process: no process of the run is left (before, the pool
    put a replacement worker in place, which lived on as an orphan holding the run's lock)."""
    import signal
    import subprocess
    import sys
    import time

    root = str(Path(__file__).resolve().parents[2])
    run = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT.format(root=root)], stdout=subprocess.PIPE, text=True)
    os.kill(int(run.stdout.readline()), signal.SIGKILL)
    time.sleep(1.5)
    survivors = _children(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not all(_gone(p) for p in survivors) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in survivors if not _gone(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, "a probe worker outlived its run"


def test_sigterm_to_the_process_group_stops_every_process_of_a_run(tmp_path: Path) -> None:
    """SIGTERM to a run's whole process group (as Slurm and ``timeout`` send it) while probe workers run: the
    run exits with 143 within seconds and none of its processes is left."""
    import signal
    import subprocess
    import sys
    import time

    from avsprobe.data.biaslab.world import build_world

    build_world(tmp_path / "w", clips=30, workers=2)
    run = subprocess.Popen([sys.executable, "-m", "avsprobe", "run", "--model", "oracle", "--suite", "paper",
                            "--workers", "1", "--data", str(tmp_path / "w"), "--out", str(tmp_path / "runs")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _children(run.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children(run.pid), "the run started no probe worker"
    members = {run.pid} | _children(run.pid)
    time.sleep(1.0)
    os.killpg(run.pid, signal.SIGTERM)
    start = time.monotonic()
    try:
        code = run.wait(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert time.monotonic() - start < 30 and code == 143, run.stderr.read()
    time.sleep(0.5)
    assert all(_gone(p) for p in members)
