"""Shared option aliases, defined once and reused by every command (``Annotated`` typer options)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Seed = Annotated[int, typer.Option("--seed", "-s", help="Seed of every random choice (same seed, same bytes).")]
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
DataDir = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Data folder (bias lab or AVSBench); default: the built-in bias lab."),
]
Device = Annotated[str, typer.Option("--device", help="torch device: auto (CUDA when present, else the CPU), cpu, cuda, cuda:1, ...")]
BatchSize = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Clips per model call.")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N clips.")]
Subset = Annotated[
    str | None,
    typer.Option("--subset", help="Which data set when --data holds several: s4, ms3 or avss (also v1s, v1m, v2)."),
]
