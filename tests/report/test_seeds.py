"""Seed grouping: runs of one model from checkpoints of two training seeds are summarised together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avsprobe.adapters import resolve_model
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.metrics.catalog import per_clip_metrics
from avsprobe.probes.suite import ProbeSuite
from avsprobe.reference.train import TrainSettings, train
from avsprobe.report.build import build_report
from avsprobe.results import load_records
from avsprobe.runner import run_suite


def test_two_seeds_of_one_model_are_grouped(tmp_path: Path) -> None:
    world = tmp_path / "w"
    build_world(world, clips=12, workers=2)
    source = open_data(world)
    dirs = []
    for seed in (0, 1):  # two tiny checkpoints (one step each): enough to differ
        ckpt = tmp_path / f"ck{seed}"
        train(TrainSettings(model="vanilla", epochs=1, batch_size=8, data=str(world), seed=seed,
                            overrides={"frame_size": 64}), ckpt, max_steps=1, workers=1)
        run_suite(resolve_model("vanilla", {"checkpoint": str(ckpt)}), ProbeSuite.single("negative"), source,
                  tmp_path / f"run{seed}", limit=2)
        dirs.append(tmp_path / f"run{seed}")
    run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), source, tmp_path / "oracle", limit=2)
    content = build_report([*dirs, tmp_path / "oracle"], tmp_path / "rep", formats=["json", "md"])
    assert json.loads((dirs[0] / "run.json").read_text())["model_seed"] == 0
    groups = content["seed_groups"]
    assert list(groups) == ["vanilla (seeds 0, 1)"]  # the oracle has no training seed: not grouped
    fpr = groups["vanilla (seeds 0, 1)"]["fpr_silence"]
    by_seed = [float(per_clip_metrics()["fpr_silence"](load_records(d)).mean()) for d in dirs]
    assert fpr["seeds"] == {0: by_seed[0], 1: by_seed[1]}
    assert fpr["mean"] == pytest.approx(float(np.mean(by_seed)), abs=1e-12)
    assert (fpr["min"], fpr["max"]) == (min(by_seed), max(by_seed))
    assert fpr["ci_low"] <= fpr["mean"] <= fpr["ci_high"]
    # the seed-level t-interval by hand: two seeds, t(0.975, 1) = 12.706
    half = 12.706204736174707 * float(np.std(by_seed, ddof=1)) / np.sqrt(2)
    assert (fpr["seed_ci_low"], fpr["seed_ci_high"]) == pytest.approx((np.mean(by_seed) - half, np.mean(by_seed) + half))
    # a metric that is not a clip mean (the dataset-level F-score) comes from each run's own headline
    from avsprobe.report.compute import compute_metrics, load_run

    auroc = groups["vanilla (seeds 0, 1)"]["fscore"]
    by_seed = [compute_metrics(load_run(d)).headline["fscore"].value for d in dirs]
    assert auroc["seeds"] == {0: pytest.approx(by_seed[0]), 1: pytest.approx(by_seed[1])}
    assert auroc["sd"] == pytest.approx(float(np.std(by_seed, ddof=1))) and "ci_low" not in auroc
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## Seeds" in text and "| vanilla (seeds 0, 1) |" in text


def test_seed_paired_differences_by_hand() -> None:
    from avsprobe.report.compute import seed_paired_differences

    first = {"miou": {"seeds": {0: 0.5, 1: 0.6, 2: 0.7}}}
    second = {"miou": {"seeds": {0: 0.6, 1: 0.6, 2: 0.9, 3: 0.1}}, "other": {"seeds": {0: 1.0, 1: 2.0}}}
    out = seed_paired_differences([("a", first), ("b", second)])
    diff = out["b - a"]["miou"]
    assert diff["seeds"] == {0: pytest.approx(0.1), 1: pytest.approx(0.0), 2: pytest.approx(0.2)}  # seed 3 unpaired
    # t(0.975, 2) = 4.302653: mean 0.1, sd 0.1
    half = 4.302652729911275 * 0.1 / np.sqrt(3)
    assert (diff["mean"], diff["seed_ci_low"], diff["seed_ci_high"]) == pytest.approx((0.1, 0.1 - half, 0.1 + half))
    assert "other" not in out["b - a"]
