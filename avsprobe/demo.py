"""``avsprobe demo``: the bias lab end to end, from nothing to a report.

Builds (or reuses) the default bias lab and a Co-AVS set from its test scenes, runs the ``paper`` suite over
the balanced test split for the reference models (bundled checkpoints, or retrained with the documented
recipe), the audio-blind vanilla model and the trivial baselines in one shared pass (each probed sample is
made once), runs the reference models on Co-AVS and through the robustness suite, and writes the report.

Defaults are sized so the whole demo takes about five minutes on two CPU cores: the first ``clips`` test clips
and ``coavs_videos`` Co-AVS videos. ``clips=None`` uses the whole test split (200 clips).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avsprobe.adapters import resolve_model
from avsprobe.data.audio_bank import biaslab_audio_bank
from avsprobe.data.avsbench.readers import AVSSReader
from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.data.coavs import build_coavs, find_scenes
from avsprobe.data.source import open_data
from avsprobe.probes.suite import load_suite
from avsprobe.report.build import build_report
from avsprobe.runner import model_folder_name, run_models

__all__ = ["DemoSettings", "run_demo", "DEMO_MODELS", "REFERENCE_MODELS"]

REFERENCE_MODELS = ("vanilla", "ours-nodebias", "ours")
DEMO_MODELS = (*REFERENCE_MODELS, "audio-blind:vanilla", "empty", "full")
TRAINED_FOR_DEMO = ("vanilla", "ours-nodebias", "ours", "visual-only")

StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoSettings:
    """What the demo does.

    Attributes:
        out: report folder.
        runs: where the run records go (default: ``runs/demo`` in the working folder).
        clips: test clips probed (None: all).
        coavs_videos: Co-AVS videos built and run (a multiple of 36 uses every level pair equally often);
            each size is its own set and its own runs (``runs/coavs-{videos}``).
        retrain: train the reference models first (into ``checkpoints``) instead of using the bundled ones.
        checkpoints: folder for retrained checkpoints.
        epochs: training epochs when retraining.
        batch_size: clips per model call.
    """

    out: Path = Path("reports/demo")
    runs: Path = Path("runs/demo")
    clips: int | None = 16
    coavs_videos: int = 36
    retrain: bool = False
    checkpoints: Path = Path("checkpoints")
    epochs: int = 14
    batch_size: int = 8


PHI_MODELS = ("ours-nodebias", "ours")
"""The reference models with a perception module Phi (active queries)."""

OURS_INFERENCE: dict[str, str] = {}
"""Inference settings of a retrained ``ours`` beyond its own config (none: it infers with the per-query contrast
it was trained with, as the bundled checkpoint does)."""


def run_demo(settings: DemoSettings, on_progress: StageProgress | None = None) -> dict[str, Any]:
    """Run the demo; returns the report's JSON content (see :func:`avsprobe.report.build.build_report`)."""
    def stage(name: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: on_progress(name, done, total)) if on_progress else None

    world = ensure_default_world(stage("building the default bias lab (first use)"))
    options: dict[str, dict[str, Any]] = {}
    if settings.retrain:
        from avsprobe.reference.train import TrainSettings, train

        for model in TRAINED_FOR_DEMO:
            folder = settings.checkpoints / model
            # the bundled recipe: Phi (models with active queries) fitted with "no class" negatives
            train(TrainSettings(model=model, epochs=settings.epochs, data=str(world), debias="uncertainty",
                                phi_negatives=model in PHI_MODELS), folder,
                  on_progress=(lambda s, d, t, m=model: on_progress(f"training {m} ({s})", d, t)) if on_progress else None)
            options[model] = {"checkpoint": str(folder), **(OURS_INFERENCE if model == "ours" else {})}
    adapters = []
    for name in DEMO_MODELS:
        inner = name.split(":", 1)[-1]
        adapters.append(resolve_model(name, options.get(inner, {})))
    source = open_data(world, split="test")
    paper = load_suite("paper")
    paper_dirs = [settings.runs / model_folder_name(a) / paper.name for a in adapters]
    run_models(adapters, paper, source, paper_dirs, batch_size=settings.batch_size, limit=settings.clips,
               on_progress=stage(f"paper suite x {len(adapters)} models"), folder_flag="--runs")

    coavs_name = f"coavs-{settings.coavs_videos}"
    coavs_root = settings.runs / coavs_name
    if not (coavs_root / "coavs.json").is_file():
        reader = AVSSReader(world, "test")
        bank = biaslab_audio_bank(world, "train")
        scenes = [s for s in find_scenes(reader) if all(c in bank.classes() for c in s.classes)]
        # scenes among the probed clips, so coavs_drop can pair each with its original-audio run
        probed = set(reader.sample_ids()[: settings.clips] if settings.clips else reader.sample_ids())
        scenes = [s for s in scenes if s.sample.sample_id in probed] or scenes
        build_coavs(coavs_root, scenes, bank, videos=settings.coavs_videos, seed=0,
                    source=f"biaslab:{world.name}", source_root=world, overwrite=coavs_root.exists(),
                    on_progress=stage("building Co-AVS"))
    coavs_source = open_data(coavs_root)
    negative = load_suite("negative")  # its baseline condition is the Co-AVS mixture itself
    reference = [a for a in adapters if a.name in REFERENCE_MODELS]
    coavs_dirs = [settings.runs / model_folder_name(a) / coavs_name for a in reference]
    run_models(reference, negative, coavs_source, coavs_dirs, batch_size=settings.batch_size,
               on_progress=stage(f"Co-AVS x {len(reference)} models"), folder_flag="--runs")
    robustness = load_suite("robustness")  # graded corruptions of the audio and the frames
    robustness_dirs = [settings.runs / model_folder_name(a) / robustness.name for a in reference]
    run_models(reference, robustness, source, robustness_dirs, batch_size=settings.batch_size, limit=settings.clips,
               on_progress=stage(f"robustness suite x {len(reference)} models"), folder_flag="--runs")
    return build_report([*paper_dirs, *coavs_dirs, *robustness_dirs], settings.out)
