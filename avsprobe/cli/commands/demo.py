"""``avsprobe demo``: the whole bias lab, from nothing to a written report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("reports/demo"),
    runs: Annotated[Path, typer.Option("--runs", help="Where the run records go.")] = Path("runs/demo"),
    clips: Annotated[int, typer.Option("--clips", min=0, help="Test clips probed by the paper suite (0: all 200).")] = 16,
    coavs_videos: Annotated[int, typer.Option("--coavs-videos", min=1, help="Co-AVS videos built and run (a multiple of 36 uses each level pair equally often).")] = 36,
    retrain: Annotated[bool, typer.Option("--retrain", help="Retrain vanilla, ours-nodebias, ours and visual-only first (about 45 min on 2 cores).")] = False,
    checkpoints: Annotated[Path, typer.Option("--checkpoints", help="Where --retrain writes the checkpoints.")] = Path("checkpoints"),
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs with --retrain (the recipe: 14).")] = 14,
) -> None:
    """Build the bias lab and Co-AVS, run the paper suite for the reference models and baselines, write the report."""
    import time

    from avsprobe.cli.progress import staged_progress
    from avsprobe.demo import DemoSettings, run_demo
    from avsprobe.heap import keep_freed_memory

    keep_freed_memory()  # the process is ours (see ``avsprobe run``)

    started = time.perf_counter()
    settings = DemoSettings(out=out, runs=runs, clips=clips or None, coavs_videos=coavs_videos, retrain=retrain,
                            checkpoints=checkpoints, epochs=epochs)
    with staged_progress() as on_progress:
        content = run_demo(settings, on_progress)
    console.stdout().print(f"report written to [bold]{out}[/] ({len(content['runs'])} runs, {len(content['figures'])} "
                           f"figures) in {time.perf_counter() - started:.0f} s; open {out / 'report.md'}", soft_wrap=True)
