"""``avsprobe build-coavs``: build the Co-AVS multi-source test set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console
from avsprobe.errors import ConfigError


def build_coavs_command(
    source: Annotated[Path | None, typer.Option("--source", help="A bias-lab world (scenes from its test split, clean clips from its train split). Default: the cached default bias lab.")] = None,
    avsbench: Annotated[Path | None, typer.Option("--avsbench", help="AVSBench root: scenes from AVSS test (first 5 s of v2 scenes), clean clips from S4 train (else single-class AVSS train clips).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("coavs"),
    videos: Annotated[int, typer.Option("--videos", min=1, help="Number of 5-s videos.")] = 450,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of every choice.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Build Co-AVS: two-class scenes whose audio is a mix of clean clips at balanced loudness pairs."""
    from avsprobe.cli.progress import progress_bar
    from avsprobe.data.avsbench.layout import detect_layouts
    from avsprobe.data.avsbench.readers import AVSSReader
    from avsprobe.data.coavs import build_coavs, scene_of

    if source is not None and avsbench is not None:
        raise ConfigError("give --source or --avsbench, not both")
    if avsbench is not None:
        from avsprobe.data.source import avsbench_audio_bank

        layouts = {la.kind: la.root for la in detect_layouts(avsbench)}
        if "avss" not in layouts:
            raise ConfigError(f"--avsbench needs AVSS (metadata.csv) under {avsbench}; found "
                              f"{', '.join(sorted(layouts))}")
        reader = AVSSReader(layouts["avss"], "test")
        bank, bank_source = avsbench_audio_bank(layouts)
        if bank is None:
            raise ConfigError(f"--avsbench found no clean clips under {avsbench}: {bank_source}")
        description = f"avsbench:{avsbench}"
        scene_root = layouts["avss"]
    else:
        from avsprobe.data.audio_bank import biaslab_audio_bank
        from avsprobe.data.biaslab.world import ensure_default_world

        if source is None:
            with progress_bar("building the default bias lab (first use)") as on_progress:
                source = ensure_default_world(on_progress)
        reader = AVSSReader(source, "test")
        bank = biaslab_audio_bank(source, "train")
        description = f"biaslab:{source.name}"
        scene_root = source
    with progress_bar("finding two-class scenes") as on_progress:
        scenes = []
        ids = reader.sample_ids()
        for i, sample_id in enumerate(ids):
            scene = scene_of(reader.read(sample_id))
            if scene is not None:
                scenes.append(scene)
            on_progress(i + 1, len(ids))
    with progress_bar("writing Co-AVS") as on_progress:
        info = build_coavs(out, scenes, bank, videos=videos, seed=seed, source=description, source_root=scene_root,
                           overwrite=force, on_progress=on_progress)
    console.stdout().print(f"Co-AVS written to [bold]{out}[/]: {videos} videos from {info['scenes_available']} scenes; "
                           f"{info['balance']}; manifest {out / 'manifest.csv'}", soft_wrap=True)
    console.stdout().print(f"content hash: {info['content_hash']}")
    reuse = videos / max(1, int(info["scenes_available"]))  # type: ignore[arg-type]
    if reuse > REUSE_WARNING:
        console.stderr().print(f"[yellow]warning:[/] each of the {info['scenes_available']} scenes appears in about "
                               f"{reuse:.0f} videos (the same frames under other level pairs and clean clips): "
                               "the set measures those scenes' objects, not the data set's", soft_wrap=True)


REUSE_WARNING = 3.0
"""Videos per qualifying scene above which ``build-coavs`` warns (the paper's set: 450 videos of many scenes)."""
