"""``avsprobe synth``: build a synthetic bias-lab world (and a contact sheet to look at)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console
from avsprobe.cli.options import OutDir


def synth_command(
    out: OutDir = Path("biaslab"),
    clips: Annotated[int | None, typer.Option("--clips", "-n", min=3, help="Total clips, shared over train/val/test in the spec's proportions (default: the spec's counts, 1000).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s", help="World seed (default: the spec's, 0).")] = None,
    world: Annotated[Path | None, typer.Option("--world", help="World spec TOML (default: probes/worlds/biaslab.toml).")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Also write OUT/preview.png, a contact sheet; alone on an existing world, only the preview.")] = False,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: up to 4). Output does not depend on it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Build the synthetic bias lab: a procedural audio-visual world with known, planted biases."""
    from avsprobe.cli.progress import progress_bar
    from avsprobe.data.biaslab.spec import load_world_spec
    from avsprobe.data.biaslab.world import build_world

    only_preview = preview and (out / "world.json").is_file() and not force and clips is None and seed is None
    if not only_preview:
        spec = load_world_spec(world)
        with progress_bar(f"building {spec.name}") as on_progress:
            info = build_world(out, spec=spec, seed=seed, clips=clips, workers=workers, overwrite=force,
                               on_progress=on_progress)
        splits = ", ".join(f"{k} {v}" for k, v in info["splits"].items())  # type: ignore[union-attr]
        console.stdout().print(f"world written to [bold]{out}[/] ({splits}; seed {info['seed']})")
    if preview:
        from avsprobe.data.biaslab.preview import write_preview

        path = write_preview(out, out / "preview.png")
        console.stdout().print(f"preview written to [bold]{path}[/]")
