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
    label: Annotated[list[str] | None, typer.Option("--label", help="OLD=NEW: show the run labelled OLD as NEW (repeat for several).")] = None,
    order: Annotated[list[str] | None, typer.Option("--order", help="A run's label (after --label), in the order wanted; the first is the reference of the paired differences (repeat; runs not named follow).")] = None,
    figures: Annotated[str | None, typer.Option("--figures", help="Comma-separated figure names to draw (default: all; 'none': no figures).")] = None,
    log: Annotated[list[str] | None, typer.Option("--log", help="Also send each model's metadata and headline metrics to a tracker: wandb or mlflow (repeatable; pip install 'avsprobe[tracking]'; the tracker's own settings say where, e.g. WANDB_MODE=offline, MLFLOW_TRACKING_URI).")] = None,
    project: Annotated[str, typer.Option("--project", help="The W&B project or MLflow experiment --log sends to.")] = "avsprobe",
) -> None:
    """Compute every bias metric the runs support and write the report, tables and figures."""
    from avsprobe.errors import ConfigError
    from avsprobe.report.build import build_report

    renames = {}
    for item in label or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise ConfigError(f"--label {item!r}: write OLD=NEW")
        renames[old] = new
    from avsprobe.report.tracking import TRACKERS

    for tracker in log or []:
        if tracker not in TRACKERS:
            raise ConfigError(f"--log {tracker!r}: use one of {', '.join(TRACKERS)}")
    chosen = None if figures is None else [f.strip() for f in figures.split(",") if f.strip() and f.strip() != "none"]
    content = build_report(runs, out, formats=[f.strip() for f in formats.split(",") if f.strip()],
                           grid_clips=grid_clip or None, labels=renames or None, order=order or None, figures=chosen)
    for run in content["runs"]:
        if "incomplete" in run:
            done, planned = run["incomplete"]["jobs_recorded"], run["incomplete"]["jobs_planned"]
            console.stderr().print(f"[yellow]warning: {run['model']} ({run['path']}) is incomplete: {done} of {planned} "
                                   "jobs recorded (a shard not run yet?); its numbers cover only those[/]", soft_wrap=True)
    from rich.markup import escape

    for warning in content.get("warnings", []):
        console.stderr().print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    console.stdout().print(f"report written to [bold]{out}[/] ({len(content['runs'])} runs, "
                           f"{len(content['figures'])} figures: {', '.join(content['figures'])})", soft_wrap=True)
    from avsprobe.report.tracking import log_report

    for tracker in log or []:
        logged = log_report(out, tracker, project=project, content=content)
        console.stdout().print(f"{logged} runs sent to {tracker} (project {project})", soft_wrap=True, markup=False)
