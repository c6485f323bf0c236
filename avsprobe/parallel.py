"""Mapping a function over jobs in worker processes, in order, with progress reports."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["default_workers", "parallel_map", "worker_signals"]

J = TypeVar("J")
R = TypeVar("R")


def default_workers() -> int:
    """Up to 4 processes, at most the CPU count."""
    return min(4, os.cpu_count() or 1)


def worker_signals() -> None:
    """Workers leave Ctrl-C to the parent (which stops them), die on SIGTERM as usual, and die with their
    parent: a worker orphaned by a kill -9 of the run would otherwise live on, holding the run's lock."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere nothing (the parent's cleanup still ends workers)."""
    if not sys.platform.startswith("linux"):
        return

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call took effect
        os._exit(1)


def parallel_map(fn: Callable[[J], R], jobs: Sequence[J], *, workers: int | None = None, chunksize: int = 4,
                 on_progress: Callable[[int, int], None] | None = None) -> list[R]:
    """``[fn(job) for job in jobs]``, computed in ``workers`` forked processes (in-process for one).

    Results come back in job order, so output never depends on the number of workers. ``fn`` must be a
    module-level function (it is pickled by reference).
    """
    workers = workers or default_workers()
    results: list[R] = []
    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        # Leaving the block any way (an error, Ctrl-C or SIGTERM turned into an exception by the CLI)
        # terminates the workers, so none is left behind.
        with multiprocessing.get_context("fork").Pool(workers, initializer=worker_signals) as pool:
            for result in pool.imap(fn, jobs, chunksize=chunksize):
                results.append(result)
                if on_progress:
                    on_progress(len(results), len(jobs))
    else:
        for job in jobs:
            results.append(fn(job))
            if on_progress:
                on_progress(len(results), len(jobs))
    return results
