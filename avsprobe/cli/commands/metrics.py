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
    from avsprobe.metrics.catalog import get

    arrow = {True: "↑", False: "↓", None: "–"}
    if ids:
        _print_table("AVS metric definitions", ("inputs", "better", "source", "definition"),
                     [(d.id, d.kind, arrow[d.higher_is_better], d.source, d.formula) for d in map(METRICS.get, ids)])
    if protocol_ids:
        _print_table("protocol metrics (report sections named after other papers)", ("better", "source", "definition"),
                     [(m.id, arrow[m.higher_is_better], m.source, m.definition) for m in map(protocol.get, protocol_ids)])
    if bias_ids:
        _print_table("bias metrics (avsprobe report)", ("better", "unit", "definition"),
                     [(m.name, arrow[m.higher_is_better], m.unit, m.definition) for m in map(get, bias_ids)])


def _print_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """One table: the id column never folded (ids are what a user types), the others folded to the terminal."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("id", no_wrap=True)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.stdout().print(table)
