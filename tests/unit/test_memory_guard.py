"""The memory guard: the batch a run can afford for its clips' frame size."""

from __future__ import annotations

import pytest

from avsprobe.errors import ConfigError
from avsprobe.memory_guard import BYTES_PER_JOB_PIXEL, choose_batch

FOUR_K = 5 * 3840 * 2160


def test_a_4k_clip_gets_the_batch_the_memory_allows() -> None:
    """At 28 bytes per pixel a 4k job needs about 1.1 GB: with 8 GB available (4.8 GB budget) batch 8 becomes 4
    (before, it ran on to 9.2 GB)."""
    choice = choose_batch(8, FOUR_K, 8 * 2**30)
    assert choice.per_job_bytes == BYTES_PER_JOB_PIXEL * FOUR_K
    assert choice.chosen == int(0.6 * 8 * 2**30) // (BYTES_PER_JOB_PIXEL * FOUR_K) == 4 and choice.shrunk
    assert "batch 8 -> 4" in choice.describe()


def test_small_clips_keep_their_batch_and_no_reading_means_no_guard() -> None:
    assert choose_batch(8, 5 * 224 * 224, 8 * 2**30).chosen == 8
    assert choose_batch(8, FOUR_K, None).chosen == 8


def test_a_clip_that_cannot_fit_is_refused_with_the_numbers() -> None:
    with pytest.raises(ConfigError, match=r"needs about 1\.1 GB, and 1\.0 GB of memory is available"):
        choose_batch(8, FOUR_K, 2**30)


def test_a_run_shrinks_its_batch_for_large_frames(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The runner asks the guard with its first clip's frames and reports the batch it chose."""
    from avsprobe import memory_guard
    from avsprobe.adapters import resolve_model
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.runner import run_suite

    build_world(tmp_path / "w", clips=10, workers=1)
    pixels = 5 * 128 * 128
    monkeypatch.setattr(memory_guard, "available_memory_bytes", lambda: int(3 * BYTES_PER_JOB_PIXEL * pixels / 0.6))
    summary = run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), open_data(tmp_path / "w"),
                        tmp_path / "r", limit=2, workers=0)
    assert summary.batch is not None and summary.batch.chosen == 3 and summary.batch.asked == 8
