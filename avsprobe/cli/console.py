"""Rich consoles for the CLI (the library itself never prints)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@cache
def stdout() -> Console:
    """Console for results."""
    from rich.console import Console

    return Console()


@cache
def stderr() -> Console:
    """Console for errors, warnings and progress."""
    from rich.console import Console

    return Console(stderr=True)
