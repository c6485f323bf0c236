"""``avsprobe metrics``: list the metric definitions (the ids printed beside every number)."""

from __future__ import annotations

from typing import Annotated

import typer

from avsprobe.cli import console


def metrics_command(
    metric_id: Annotated[str | None, typer.Argument(help="Show one metric definition.")] = None,
) -> None:
    """List the AVS metric definitions, legacy AVSBench modes included."""
    from rich.table import Table

    from avsprobe.metrics.definitions import METRICS

    ids = [METRICS.canonical(metric_id)] if metric_id else METRICS.names()
    table = Table(title="AVS metric definitions", show_lines=False)
    for column in ("id", "inputs", "better", "definition"):
        table.add_column(column, overflow="fold")
    for key in ids:
        d = METRICS.get(key)
        table.add_row(d.id, d.kind, "↑" if d.higher_is_better else "↓", d.formula)
    console.stdout().print(table)
