"""``avsprobe report``: tables and figures for one or more runs, models side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console


def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (written by 'avsprobe run'), or folders holding run folders below them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("reports/report"),
    formats: Annotated[str, typer.Option("--format", help="Comma-separated: md, html, latex, json, browse (the failure browser).")] = "md,html,latex,json,browse",
    grid_clip: Annotated[list[str] | None, typer.Option("--grid-clip", help="A clip id for the qualitative grid (repeat for several; default: where the models differ most).")] = None,
) -> None:
    """Compute every bias metric the runs support and write the report, tables and figures."""
    from avsprobe.report.build import build_report

    content = build_report(runs, out, formats=[f.strip() for f in formats.split(",") if f.strip()],
                           grid_clips=grid_clip or None)
    for run in content["runs"]:
        if "incomplete" in run:
            done, planned = run["incomplete"]["jobs_recorded"], run["incomplete"]["jobs_planned"]
            console.stderr().print(f"[yellow]warning: {run['model']} ({run['path']}) is incomplete: {done} of {planned} "
                                   "jobs recorded (a shard not run yet?); its numbers cover only those[/]", soft_wrap=True)
    console.stdout().print(f"report written to [bold]{out}[/] ({len(content['runs'])} runs, "
                           f"{len(content['figures'])} figures: {', '.join(content['figures'])})", soft_wrap=True)
