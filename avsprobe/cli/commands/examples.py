"""``avsprobe examples``: copy the adapter examples and model templates out of the installed package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console


def examples_command(
    out: Annotated[Path, typer.Argument(help="Folder to copy them into (created; existing files are not overwritten).")
                   ] = Path("avsprobe-examples"),
) -> None:
    """Copy the examples (a custom adapter, scoring exported predictions) and the templates of published models
    (examples/models/) into OUT, so an installed avsprobe gives them without a source checkout."""
    from avsprobe.resources import copy_examples

    written = copy_examples(out)
    console.stdout().print(f"{len(written)} files in {out}: " + ", ".join(str(p) for p in written))
