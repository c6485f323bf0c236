"""``avsprobe metrics``: list the metric definitions (the ids printed beside every number)."""

from __future__ import annotations

from typing import Annotated

import typer

from avsprobe.cli import console


def metrics_command(
    metric_id: Annotated[str | None, typer.Argument(help="Show one metric definition.")] = None,
) -> None:
    """List the metric definitions: the AVS segmentation metrics (legacy AVSBench modes included) and the
    bias metrics of reports."""
    from rich.table import Table

    from avsprobe.metrics.definitions import METRICS
    from avsprobe.metrics.protocols import PROTOCOL_METRICS
    from avsprobe.report.compute import METRIC_DEFINITIONS

    protocol = {m.id: m for m in PROTOCOL_METRICS}
    if metric_id is not None and metric_id not in METRIC_DEFINITIONS and metric_id not in protocol:
        ids, bias_ids, protocol_ids = [METRICS.canonical(metric_id, extra=[*METRIC_DEFINITIONS, *protocol])], [], []
    else:
        ids = [] if metric_id else METRICS.names()
        bias_ids = ([metric_id] if metric_id in METRIC_DEFINITIONS else []) if metric_id else list(METRIC_DEFINITIONS)
        protocol_ids = ([metric_id] if metric_id in protocol else []) if metric_id else list(protocol)
    arrow = {True: "↑", False: "↓"}
    if ids:
        table = Table(title="AVS metric definitions", show_lines=False)
        table.add_column("id", no_wrap=True)  # ids are what a user types: never folded
        for column in ("inputs", "better", "source", "definition"):
            table.add_column(column, overflow="fold")
        for key in ids:
            d = METRICS.get(key)
            table.add_row(d.id, d.kind, arrow[d.higher_is_better], d.source, d.formula)
        console.stdout().print(table)
    if protocol_ids:
        table = Table(title="protocol metrics (report sections named after other papers)", show_lines=False)
        table.add_column("id", no_wrap=True)
        for column in ("better", "source", "definition"):
            table.add_column(column, overflow="fold")
        for key in protocol_ids:
            m = protocol[key]
            table.add_row(m.id, arrow[m.higher_is_better], m.source, m.definition)
        console.stdout().print(table)
    if bias_ids:
        from avsprobe.metrics.catalog import get

        table = Table(title="bias metrics (avsprobe report)", show_lines=False)
        table.add_column("id", no_wrap=True)
        for column in ("better", "unit", "definition"):
            table.add_column(column, overflow="fold")
        for key in bias_ids:
            m = get(key)
            table.add_row(key, {True: "↑", False: "↓", None: "–"}[m.higher_is_better], m.unit, m.definition)
        console.stdout().print(table)
