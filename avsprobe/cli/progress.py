"""A rich progress bar with ETA for long library calls that report ``(done, total)``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from avsprobe.cli import console


def _new_progress() -> Any:
    """A started-later rich ``Progress`` with description, bar, count, elapsed time and ETA, on stderr."""
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
