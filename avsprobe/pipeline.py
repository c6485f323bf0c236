"""Probing ahead of inference: chunks of jobs read and probed in worker processes, through a bounded queue.

The runner predicts and scores in the main process (where the model and its device live) while
``workers`` processes read the next clips and apply the probes (numpy only: reading, loudness, gains,
mixing, noise, rescaling), at most ``prefetch`` chunks ahead, so ``predict`` never waits on probe work that
could have been done earlier and memory stays bounded. Chunks come back in submission order and every random
draw is keyed by (seed, sample, condition), so the records do not depend on the number of workers.

The workers are forked after the run is planned and inherit the plan, the suite and the reader, so a task
is only a list of job numbers. With ``workers=0`` the same functions run in the main process.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from avsprobe.errors import DataError, ProbeNotApplicable

__all__ = ["ProbeOutcome", "default_probe_workers", "probe_chunks"]


@dataclass(frozen=True)
class ProbeOutcome:
    """What probing one job gave: ``status`` ``ok`` with the probed sample, or ``not_applicable``/``failed``
    with the reason; ``category`` and ``split`` of the clip (empty when it could not be read)."""

    index: int
    status: str
    reason: str
    category: str
    split: str
    probed: Any = None


def default_probe_workers() -> int:
    """Worker processes for probing: none below 4 cores (measured on 2: the workers' and the model's CPU
    compete and runs get slower), else one per core but two (the model's and the scorer's), up to 6."""
    cores = os.cpu_count() or 1
    return 0 if cores < 4 else min(6, cores - 2)


class _Prober:
    """Probes jobs by number, keeping the last clip read (jobs come condition by condition for one clip)."""

    def __init__(self, jobs: dict[int, Any], suite: Any, reader: Any) -> None:
        self.jobs, self.suite, self.reader = jobs, suite, reader
        self._key: str | None = None
        self._sample: Any = None

    def _read(self, sample_id: str) -> Any:
        if sample_id != self._key:
            try:
                self._sample = self.reader.read(sample_id)
            except DataError as exc:  # every job of the clip fails with the file and the reason
                self._sample = exc
            self._key = sample_id
        return self._sample

    def probe(self, indices: Sequence[int]) -> list[ProbeOutcome]:
        out = []
        for index in indices:
            job = self.jobs[index]
            sample = self._read(job.sample_id)
            if isinstance(sample, DataError):
                out.append(ProbeOutcome(index, "failed", f"could not read the clip: {sample}", "", ""))
                continue
            category, split = str(getattr(sample, "category", "")), str(getattr(sample, "split", ""))
            try:
                probed = job.probe.apply(sample, job.condition, self.suite.rng(job.sample_id, job.condition))
            except ProbeNotApplicable as exc:
                out.append(ProbeOutcome(index, "not_applicable", str(exc), category, split))
                continue
            except DataError as exc:
                out.append(ProbeOutcome(index, "failed", str(exc), category, split))
                continue
            if probed.frames is not sample.frames and np.array_equal(probed.frames, sample.frames):
                # an audio probe's frames are the clip's: one shared array pickles once per chunk
                probed.frames = sample.frames
            out.append(ProbeOutcome(index, "ok", "", category, split, probed))
        return out


_WORKER: _Prober | None = None  # set in the parent before forking; each worker keeps its own copy


def _probe_in_worker(indices: list[int]) -> list[ProbeOutcome]:
    assert _WORKER is not None, "worker started without the run's state"
    return _WORKER.probe(indices)


def probe_chunks(chunks: Sequence[Sequence[int]], jobs: dict[int, Any], suite: Any, reader: Any, *,
                 workers: int = 0, prefetch: int | None = None) -> Iterator[list[ProbeOutcome]]:
    """The outcomes of each chunk of job numbers, in order, probed by ``workers`` processes at most
    ``prefetch`` chunks ahead (default ``2 * workers``)."""
    global _WORKER
    if workers <= 0 or len(chunks) < 2:
        prober = _Prober(jobs, suite, reader)
        for chunk in chunks:
            yield prober.probe(chunk)
        return
    import multiprocessing

    from avsprobe.parallel import worker_signals

    _WORKER = _Prober(jobs, suite, reader)
    ahead = max(1, prefetch if prefetch is not None else 2 * workers)
    try:
        # leaving the block any way (the consumer stops, an error, Ctrl-C) terminates the workers
        with multiprocessing.get_context("fork").Pool(workers, initializer=worker_signals) as pool:
            pending: deque = deque()
            remaining = iter(chunks)
            for chunk in remaining:
                pending.append(pool.apply_async(_probe_in_worker, (list(chunk),)))
                if len(pending) >= ahead:
                    break
            while pending:
                outcome = pending.popleft().get()
                following = next(remaining, None)
                if following is not None:
                    pending.append(pool.apply_async(_probe_in_worker, (list(following),)))
                yield outcome
    finally:
        _WORKER = None
