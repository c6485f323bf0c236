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
        frames=frames, expected_mask=mask, object_masks={"dog": ~mask, "none": np.zeros((5, 6, 7), bool)},
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
        assert sorted(got.object_masks) == ["dog", "none"]
        assert all(np.array_equal(got.object_masks[k], want.object_masks[k]) for k in want.object_masks)
        assert got.applied == want.applied
    assert back[0].probed.frames is back[1].probed.frames  # one clip's frames, written and read once
    assert back[2].probed is None and back[2].reason == "could not read"


def test_a_run_leaves_no_spool_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers spill into a fresh folder under the spool root, removed when the run ends, also when the
    consumer stops early."""
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import load_suite
    from avsprobe.runner import plan_jobs

    root = tmp_path / "spool-root"
    root.mkdir()
    monkeypatch.setattr(pipeline, "_spool_folder", lambda: str(Path(pipeline.tempfile.mkdtemp(dir=root))))
    source = open_data(None)
    suite = load_suite("negative")
    plan = plan_jobs(suite, source, 2)
    jobs = dict(plan.jobs)
    chunks = [[i for i, _ in plan.jobs[s : s + 3]] for s in range(0, len(plan.jobs), 3)]
    piped = [o for chunk in pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=2) for o in chunk]
    serial = [o for chunk in pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=0) for o in chunk]
    assert [o.index for o in piped] == [o.index for o in serial]
    for a, b in zip(piped, serial, strict=True):
        assert np.array_equal(a.probed.audio, b.probed.audio) and np.array_equal(a.probed.frames, b.probed.frames)
    assert list(root.iterdir()) == []
    stopped = pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=2)
    next(stopped)
    stopped.close()
    assert list(root.iterdir()) == []


def test_a_full_spool_falls_back_to_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a worker cannot write its spool file (no room), the chunk comes through the pipe, equal."""
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import load_suite
    from avsprobe.runner import plan_jobs

    def full(outcomes: list, folder: str) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "_spill", full)
    source = open_data(None)
    suite = load_suite("negative")
    plan = plan_jobs(suite, source, 1)
    jobs = dict(plan.jobs)
    chunks = [[i for i, _ in plan.jobs[s : s + 2]] for s in range(0, len(plan.jobs), 2)]
    piped = [o for chunk in pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=1) for o in chunk]
    serial = [o for chunk in pipeline.probe_chunks(chunks, jobs, suite, source.reader, workers=0) for o in chunk]
    assert len(piped) == len(serial) == len(plan.jobs)
    for a, b in zip(piped, serial, strict=True):
        assert np.array_equal(a.probed.audio, b.probed.audio) and np.array_equal(a.probed.expected_mask,
                                                                                 b.probed.expected_mask)
