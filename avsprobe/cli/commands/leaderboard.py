"""``avsprobe leaderboard``: many models on one page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console


def leaderboard_command(
    paths: Annotated[list[Path], typer.Argument(help="Report folders (report.json) or run folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for index.html, leaderboard.csv and leaderboard.md.")] = Path("leaderboard"),
    metrics: Annotated[str | None, typer.Option("--metrics", help="Comma-separated columns (default: the headline metrics the inputs have).")] = None,
    sort: Annotated[str | None, typer.Option("--sort", help="The column ranked by (default: the first), best first.")] = None,
) -> None:
    """One static page comparing every model of the given reports or runs: a sortable table with intervals and
    a direction per column, links to each model's report and failure browser; plus CSV and Markdown."""
    from avsprobe.report.leaderboard import collect_rows, write_leaderboard

    rows = collect_rows(list(paths))
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    written = write_leaderboard(rows, out, metrics=chosen, sort_by=sort)
    console.stdout().print(f"{len(rows)} models ranked; open [bold]{written[0]}[/] ({', '.join(p.name for p in written)})",
                           soft_wrap=True)
