"""Probing ahead of inference: chunks of jobs read and probed in worker processes, through a bounded queue.

The runner predicts and scores in the main process (where the model and its device live) while
``workers`` processes read the next clips and apply the probes (numpy only: reading, loudness, gains,
mixing, noise, rescaling), at most ``prefetch`` chunks ahead, so ``predict`` never waits on probe work that
could have been done earlier and memory stays bounded. Chunks come back in submission order and every random
draw is keyed by (seed, sample, condition), so the records do not depend on the number of workers.

The workers are forked after the run is planned and inherit the plan, the suite and the reader, so a task
is only a list of job numbers. With ``workers=0`` the same functions run in the main process.

A probed job carries about 0.75 MB of arrays (audio, frames, masks). Pickled through the pool's pipe, that
traffic kept the main process's result thread busy for about a third of a run on 2 cores, holding the GIL
that prediction and scoring need. So a worker writes a chunk's arrays into one spool file (in ``/dev/shm``
where it has room, else the temporary folder) and sends only their places; the main process reads the file
in one call, which releases the GIL, and deletes it.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from avsprobe.errors import DataError, ProbeNotApplicable
from avsprobe.parallel import worker_signals

__all__ = ["ProbeOutcome", "default_probe_workers", "probe_chunks", "remove_stale_spools"]


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


_ARRAY_FIELDS = ("audio", "frames", "expected_mask", "annotated", "expected_labels", "original_mask")
_ALIGN_BYTES = 64
_SPOOL_MIN_FREE_BYTES = 1 << 30
_chunk_numbers = itertools.count()


@dataclass(frozen=True)
class _Spilled:
    """Where one array of a chunk lies in the chunk's spool file."""

    offset: int
    dtype: str
    shape: tuple[int, ...]


_SPOOL_PREFIX = "avsprobe-spool-"


def _spool_folder() -> str:
    """A fresh folder for spool files: in ``/dev/shm`` (memory) when it has 1 GiB free, else the temp folder.
    Its name carries the run's process id, so the spool folders of runs that died (kill -9, a hang killed by
    the scheduler) are found and removed here."""
    root = None
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        stats = os.statvfs("/dev/shm")
        if stats.f_bavail * stats.f_frsize >= _SPOOL_MIN_FREE_BYTES:
            root = "/dev/shm"
    remove_stale_spools(root or tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=f"{_SPOOL_PREFIX}{os.getpid()}-", dir=root)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale_spools(root: str) -> list[str]:
    """Remove the spool folders in ``root`` whose run process is gone; return their paths."""
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        pid_text = name[len(_SPOOL_PREFIX):].split("-", 1)[0] if name.startswith(_SPOOL_PREFIX) else ""
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            path = os.path.join(root, name)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _spill(outcomes: list[ProbeOutcome], folder: str) -> str:
    """Write the arrays of the outcomes' probed samples into one file in ``folder``, each distinct array once
    (jobs of one clip share its frames), and put a :class:`_Spilled` in each array's place; return the path."""
    path = os.path.join(folder, f"chunk-{os.getpid()}-{next(_chunk_numbers)}.bin")
    placed: dict[int, _Spilled] = {}
    offset = 0
    with open(path, "wb") as file:

        def place(array: np.ndarray) -> _Spilled:
            nonlocal offset
            key = id(array)
            if key not in placed:
                data = np.ascontiguousarray(array)
                padding = -offset % _ALIGN_BYTES
                file.write(b"\0" * padding)
                offset += padding
                file.write(data.reshape(-1).view(np.uint8).data)
                placed[key] = _Spilled(offset, data.dtype.str, tuple(data.shape))
                offset += data.nbytes
            return placed[key]

        _replace_arrays(outcomes, np.ndarray, place)
    return path


def _replace_arrays(outcomes: list[ProbeOutcome], kind: type, replace: Any) -> None:
    """Put ``replace(value)`` in place of every array field (and object mask) of type ``kind`` of the
    outcomes' probed samples."""
    for outcome in outcomes:
        probed = outcome.probed
        if probed is None:
            continue
        for name in _ARRAY_FIELDS:
            value = getattr(probed, name)
            if isinstance(value, kind):
                setattr(probed, name, replace(value))
        probed.object_masks = {k: replace(v) for k, v in probed.object_masks.items()}


def _unspill(path: str, outcomes: list[ProbeOutcome]) -> list[ProbeOutcome]:
    """Read a chunk's spool file back into its outcomes (writable arrays, shared where they were) and delete it."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        raw = np.empty(size + _ALIGN_BYTES, dtype=np.uint8)
        start = -raw.ctypes.data % _ALIGN_BYTES  # the offsets are aligned, so every array is
        buffer = raw[start : start + size]
        file.readinto(buffer)
    os.unlink(path)
    arrays: dict[_Spilled, np.ndarray] = {}  # keyed by place, dtype and shape: an empty array shares its offset

    def take(spilled: _Spilled) -> np.ndarray:
        if spilled not in arrays:
            count = int(np.prod(spilled.shape, dtype=np.int64))
            arrays[spilled] = np.frombuffer(buffer, dtype=np.dtype(spilled.dtype), count=count,
                                            offset=spilled.offset).reshape(spilled.shape)
        return arrays[spilled]

    _replace_arrays(outcomes, _Spilled, take)
    return outcomes


_WORKER: _Prober | None = None  # set in the parent before forking; each worker keeps its own copy
_SPOOL: str | None = None  # the run's spool folder, likewise


def _probe_in_worker(indices: list[int]) -> tuple[str | None, list[ProbeOutcome]]:
    """A chunk's outcomes, their arrays in a spool file when one can be written (else pickled with them)."""
    assert _WORKER is not None, "worker started without the run's state"
    outcomes = _WORKER.probe(indices)
    if _SPOOL is None:
        return None, outcomes
    try:
        return _spill(outcomes, _SPOOL), outcomes
    except OSError:  # the spool is full or gone: this chunk goes through the pipe
        return None, _WORKER.probe(indices)


def probe_chunks(chunks: Sequence[Sequence[int]], jobs: dict[int, Any], suite: Any, reader: Any, *,
                 workers: int = 0, prefetch: int | None = None) -> Iterator[list[ProbeOutcome]]:
    """The outcomes of each chunk of job numbers, in order, probed by ``workers`` processes at most
    ``prefetch`` chunks ahead (default ``max(8, 2 * workers)``: chunks differ in cost, a mix or a rescaled
    clip costing several times a silence, and a deep queue evens that out; a waiting chunk is a spool file
    of about 6 MB)."""
    global _WORKER, _SPOOL
    if workers <= 0 or len(chunks) < 2:
        prober = _Prober(jobs, suite, reader)
        for chunk in chunks:
            yield prober.probe(chunk)
        return

    _WORKER = _Prober(jobs, suite, reader)
    _SPOOL = _spool_folder()
    ahead = max(1, prefetch if prefetch is not None else max(8, 2 * workers))
    # an executor, not a multiprocessing.Pool: a worker that dies (killed, out of memory) breaks it and every
    # waiting chunk raises, where a Pool would replace the worker and wait for the lost chunk for ever
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=worker_signals)
    try:
        pending: deque = deque()
        remaining = iter(chunks)
        for chunk in remaining:
            pending.append(pool.submit(_probe_in_worker, list(chunk)))
            if len(pending) >= ahead:
                break
        while pending:
            try:
                path, outcomes = pending.popleft().result()
            except BrokenProcessPool:
                raise DataError("a probe worker process died (killed, or out of memory?); the run stopped, and "
                                "the same command resumes it") from None
            following = next(remaining, None)
            if following is not None:
                pending.append(pool.submit(_probe_in_worker, list(following)))
            yield outcomes if path is None else _unspill(path, outcomes)
    finally:
        _stop_workers(pool)
        shutil.rmtree(_SPOOL, ignore_errors=True)  # files of chunks never read (an error, Ctrl-C)
        _WORKER = _SPOOL = None


def _stop_workers(pool: Any) -> None:
    """Cancel what has not started and end the workers now (leaving the run any way: the consumer stops, an
    error, Ctrl-C), so no chunk keeps a worker, and no worker the run's lock, after the run."""
    pool.shutdown(wait=False, cancel_futures=True)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
