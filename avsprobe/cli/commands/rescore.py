"""``avsprobe rescore``: a run's records recomputed from its kept predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console


def rescore_command(
    paths: Annotated[list[Path], typer.Argument(help="Run folders (run.json), or folders holding runs.")],
    workers: Annotated[int, typer.Option("--workers", "-w", min=0, help="Processes that probe ahead (0: none).")] = 0,
) -> None:
    """Recompute the records of runs from the predictions they kept, without loading the model: after a
    metric is added or corrected, rescore instead of running every model again. With unchanged scoring code
    the records come back byte for byte."""
    from avsprobe.cli.progress import progress_bar
    from avsprobe.rescore import rescore_run, runs_under

    for run_dir in runs_under(list(paths)):
        with progress_bar(f"rescoring {run_dir}") as on_progress:
            summary = rescore_run(run_dir, workers=workers, on_progress=on_progress)
        console.stdout().print(f"{run_dir}: {summary.jobs} jobs rescored in {summary.parts} parts, "
                               f"{summary.changed} parts changed", soft_wrap=True, markup=False)
