"""``avsprobe data``: check an AVSBench (or bias-lab) tree, convert the pickled features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console
from avsprobe.cli.options import Subset

data_app = typer.Typer(help="Check AVSBench data on disk and convert its pickled features.", no_args_is_help=True)

_SHOWN = 40


@data_app.command("check")
def check_command(
    path: Annotated[Path, typer.Argument(help="avsbench_data/, Single-source/, Multi-sources/, an AVSS root or a bias-lab world.")],
    subset: Subset = None,
    content_hash: Annotated[bool, typer.Option("--hash", help="Also print a sha256 over every file's path and bytes (reads everything).")] = False,
) -> None:
    """Detect the layouts, count samples per subset and split, decode every file and name each missing or
    unusable one with the reason (without --subset: every data set found under PATH)."""
    from rich.table import Table

    from avsprobe.cli.progress import progress_bar
    from avsprobe.data.avsbench.layout import check_tree

    with progress_bar("checking files") as on_progress:
        report = check_tree(path, on_progress=on_progress, subset=subset)
    out = console.stdout()
    table = Table(title=f"AVSBench data under {path}")
    for column in ("layout", "subset", "train", "val", "test"):
        table.add_column(column, justify="right" if column in ("train", "val", "test") else "left")
    groups = sorted({(layout, subset) for layout, subset, _ in report.counts})
    for layout, subset in groups:
        table.add_row(layout, subset, *(str(report.counts.get((layout, subset, s), 0)) for s in ("train", "val", "test")))
    out.print(table)
    problems = [(f, "missing") for f in report.missing] + report.unreadable
    for file, reason in problems[:_SHOWN]:
        out.print(f"[red]{reason}[/]: {file}", soft_wrap=True)
    if len(problems) > _SHOWN:
        out.print(f"... and {len(problems) - _SHOWN} more")
    if content_hash:
        from avsprobe.data.avsbench.layout import choose_subset
        from avsprobe.data.fingerprint import content_hash as tree_hash

        root = choose_subset(path, subset).layout.root if subset else path
        out.print(f"content hash: {tree_hash(root)}", soft_wrap=True)
    if report.ok:
        out.print("[green]all files present and decodable[/]")
        return
    out.print(f"[bold red]{len(report.missing)} missing, {len(report.unreadable)} unreadable[/]")
    raise typer.Exit(1)


@data_app.command("convert-pkl")
def convert_command(path: Annotated[Path, typer.Argument(help="Folder searched recursively for *.pkl log-mel files.")]) -> None:
    """Write a .npy beside every AVSBench log-mel .pkl, read with the restricted (code-free) unpickler."""
    from avsprobe.data.avsbench.pkl import convert_pkl_tree

    written = convert_pkl_tree(path)
    console.stdout().print(f"wrote {len(written)} .npy files below {path}")
