"""Progress for long library calls that report ``(done, total)``: a rich bar with ETA on a terminal, and
plain lines at a steady pace when stderr is not a terminal (a log file, CI), where a bar would print
nothing until the end and then cut its counts."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from avsprobe.cli import console

PLAIN_INTERVAL_S = 5.0
"""Seconds between plain progress lines (``AVSPROBE_PROGRESS_INTERVAL`` overrides it)."""


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PlainProgress:
    """The part of rich's ``Progress`` interface the CLI uses, printing one line per task every few seconds
    (and when a task completes): ``stage: done/total (pct) rate/s, elapsed, ETA``."""

    def __init__(self, interval_s: float | None = None) -> None:
        env = os.environ.get("AVSPROBE_PROGRESS_INTERVAL")
        self.interval_s = float(env) if interval_s is None and env else (interval_s if interval_s is not None
                                                                         else PLAIN_INTERVAL_S)
        self._tasks: dict[int, dict[str, Any]] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def add_task(self, description: str, total: int) -> int:
        task = len(self._tasks)
        self._tasks[task] = {"description": description, "total": total, "started": time.monotonic(),
                             "printed": None, "done": 0}
        return task

    def update(self, task: int, completed: int, total: int) -> None:
        state = self._tasks[task]
        now = time.monotonic()
        finished = completed >= total and state["done"] < total
        state.update(done=completed, total=total)
        due = state["printed"] is None or now - state["printed"] >= self.interval_s
        if not (due or finished):
            return
        state["printed"] = now
        elapsed = now - state["started"]
        rate = completed / elapsed if elapsed > 0 else 0.0
        eta = _clock((total - completed) / rate) if rate > 0 and completed < total else ("0:00:00" if completed >= total else "?")
        percent = 100.0 * completed / total if total else 100.0
        console.stderr().print(f"{state['description']}: {completed}/{total} ({percent:.0f} %), {rate:.1f}/s, "
                               f"elapsed {_clock(elapsed)}, ETA {eta}", soft_wrap=True, highlight=False)


def _new_progress() -> Any:
    """A started-later progress display on stderr: rich's bar (description, bar, count, elapsed time and
    ETA) on a terminal, :class:`PlainProgress` otherwise."""
    if not console.stderr().is_terminal:
        return PlainProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console.stderr())


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield an ``on_progress(done, total)`` callback drawing a bar on stderr.

    The bar appears at the first report, so a call that fails early (bad input) shows only its error.
    """
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "progress" not in state:
            state["progress"] = _new_progress()
            state["progress"].start()
            state["task"] = state["progress"].add_task(description, total=total)
        state["progress"].update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if "progress" in state:
            state["progress"].stop()


@contextlib.contextmanager
def staged_progress() -> Iterator[Callable[[str, int, int], None]]:
    """Yield an ``on_progress(stage, done, total)`` callback: one bar per stage, all in one display on stderr."""
    state: dict[str, Any] = {"tasks": {}}

    def update(stage: str, done: int, total: int) -> None:
        if "progress" not in state:
            state["progress"] = _new_progress()
            state["progress"].start()
        tasks = state["tasks"]
        if stage not in tasks:
            tasks[stage] = state["progress"].add_task(stage, total=total)
        state["progress"].update(tasks[stage], completed=done, total=total)

    try:
        yield update
    finally:
        if "progress" in state:
            state["progress"].stop()
