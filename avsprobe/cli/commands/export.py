"""``avsprobe export``: write a probe set in an AVSBench layout for another code base to predict on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console
from avsprobe.cli.options import DataDir, Limit, Subset
from avsprobe.errors import ConfigError


def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    layout: Annotated[str, typer.Option("--layout", help="s4, ms3 or avss.")] = "s4",
    probe: Annotated[list[str] | None, typer.Option("--probe", "-p", help="A probe with its defaults (repeatable).")] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="A suite name (probes/*.toml) or file.")] = None,
    data: DataDir = None,
    subset: Subset = None,
    split: Annotated[str, typer.Option("--split", help="Split of the data to probe.")] = "test",
    limit: Limit = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Export probed clips (frames, wav, VGGish log-mel .npy, expected masks) plus a manifest."""
    from avsprobe.cli.progress import progress_bar
    from avsprobe.data.source import open_data
    from avsprobe.probes.export import export_probe_set
    from avsprobe.probes.suite import ProbeSuite, load_suite

    if (not probe) == (suite is None):
        raise ConfigError("give --probe (one or more) or --suite, not both")
    chosen = ProbeSuite.of(probe) if probe else load_suite(suite)  # type: ignore[arg-type]
    with progress_bar("preparing data") as on_progress:
        source = open_data(data, split=split, subset=subset, on_progress=on_progress)
    probes = chosen.build(bank=source.bank, classes=source.classes or None)
    with progress_bar(f"exporting {chosen.name} ({layout})") as on_progress:
        info = export_probe_set(out, source.reader, probes, chosen, layout, limit=limit,  # type: ignore[arg-type]
                                overwrite=force, on_progress=on_progress)
    skipped = len(info["not_applicable"])  # type: ignore[arg-type]
    console.stdout().print(f"exported {info['exported']} probed clips to [bold]{out}[/] in the {layout} layout "
                           f"({skipped} not applicable); manifest {out / 'manifest.csv'}")
