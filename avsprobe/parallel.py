"""Mapping a function over jobs in worker processes, in order, with progress reports."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["default_workers", "parallel_map"]

J = TypeVar("J")
R = TypeVar("R")


def default_workers() -> int:
    """Up to 4 processes, at most the CPU count."""
    return min(4, os.cpu_count() or 1)


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
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for result in pool.map(fn, jobs, chunksize=chunksize):
                results.append(result)
                if on_progress:
                    on_progress(len(results), len(jobs))
    else:
        for job in jobs:
            results.append(fn(job))
            if on_progress:
                on_progress(len(results), len(jobs))
    return results
