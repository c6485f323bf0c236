"""``avsprobe probes``: list the probes with their conditions, and the suites in ``probes/``."""

from __future__ import annotations

from typing import Annotated

import typer

from avsprobe.cli import console


def probes_command(
    name: Annotated[str | None, typer.Argument(help="Show every condition of one probe or suite.")] = None,
) -> None:
    """List probes (with their conditions) and probe suites."""
    from rich.table import Table

    from avsprobe.probes import PROBES
    from avsprobe.probes.suite import list_suites, load_suite, make_probe

    out = console.stdout()
    if name is not None and name not in PROBES:
        suite = load_suite(name)
        table = Table(title=f"suite {suite.name} v{suite.version} (seed {suite.seed}, fingerprint {suite.fingerprint()[:12]})")
        for column in ("probe", "parameters", "conditions"):
            table.add_column(column, overflow="fold")
        for spec, probe in zip(suite.probes, suite.build(), strict=True):
            table.add_row(spec.probe, str(probe.params()), ", ".join(c.label for c in probe.conditions()))
        out.print(table)
        return
    names = [PROBES.canonical(name)] if name else PROBES.names()
    table = Table(title="probes")
    for column in ("probe", "modality", "n", "conditions (baseline first)"):
        table.add_column(column, overflow="fold")
    for probe_name in names:
        probe = make_probe(probe_name)
        labels = [c.label for c in probe.conditions()]
        shown = labels if name or len(labels) <= 14 else [*labels[:13], f"... ({len(labels) - 13} more)"]
        table.add_row(probe_name, probe.modality, str(len(labels)), ", ".join(shown))
    out.print(table)
    if name is None:
        suites = Table(title="suites (probes/*.toml)")
        for column in ("suite", "version", "seed", "probes", "description"):
            suites.add_column(column, overflow="fold")
        for suite_name in list_suites():
            s = load_suite(suite_name)
            suites.add_row(s.name, str(s.version), str(s.seed), ", ".join(p.probe for p in s.probes), s.description)
        out.print(suites)
