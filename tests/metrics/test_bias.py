"""Bias metrics on real runs over the bias lab with known-answer adapters, and independent recomputation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters import ModelAdapter, resolve_model
from avsprobe.data.biaslab.reader import BiasLabWorld
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.metrics import bias
from avsprobe.metrics.catalog import paired_difference
from avsprobe.probes.suite import ProbeSuite, load_suite
from avsprobe.records import object_values
from avsprobe.results import load_records
from avsprobe.runner import run_suite


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("bias-world") / "w"
    build_world(root, clips=60, workers=2)
    return root


@pytest.fixture(scope="module")
def runs(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bias-runs")
    source = open_data(lab)
    records = {}
    for model in ("oracle", "audio-blind-oracle"):
        run_suite(resolve_model(model), load_suite("paper"), source, out / model, limit=10)
        records[model] = load_records(out / model)
    run_suite(resolve_model("loudness-gated-oracle", {"gate_lufs": -38.0}), ProbeSuite.single("intensity"), source,
              out / "gated", limit=10)
    records["gated"] = load_records(out / "gated")
    return records


def test_oracle_has_no_bias(runs: dict) -> None:
    r = runs["oracle"]
    assert bias.intensity_gap(r).value == 0.0
    assert all(v.value == 0.0 for v in bias.false_positive_rates(r).values())
    # the bias lab mixes a background bed under every clip, so its "nothing sounds" condition applies too
    assert set(bias.false_positive_rates(r)) == {"fpr_silence", "fpr_noise", "fpr_offscreen", "fpr_background"}
    assert all(v.value == 0.0 for v in bias.prior_coverage(r).values()) and len(bias.prior_coverage(r)) == 5
    assert bias.silent_object_coverage(r).value == 0.0
    assert bias.dominance(r).value == 0.0
    assert bias.follow_rate(r).value == 1.0
    assert all(v.value == 1.0 for v in bias.miou_by_level(r).values())
    assert bias.semantic_spread(r).value == 0.0


def test_audio_blind_oracle_shows_a_pure_visual_prior(runs: dict) -> None:
    r = runs["audio-blind-oracle"]
    assert bias.follow_rate(r).value == pytest.approx(0.0, abs=0.05)
    # fpr_silence equals its predicted area, recomputed independently: per clip, mean fraction predicted
    silence = r[(r.probe == "negative") & (r.condition_label == "silence") & (r.status == "ok")]
    per_clip = {}
    for row in silence.itertuples():
        per_clip.setdefault(row.sample_id, []).append(row.pred_area / row.num_pixels)
    expected = float(np.mean([np.mean(v) for v in per_clip.values()]))
    fpr = bias.false_positive_rates(r)
    assert fpr["fpr_silence"].value == pytest.approx(expected, abs=1e-12) and expected > 0
    assert fpr["fpr_noise"].value == pytest.approx(expected, abs=1e-12)
    assert fpr["fpr_silence"].ci_low <= expected <= fpr["fpr_silence"].ci_high


def test_loudness_gated_oracle_has_the_gap_its_gate_implies(runs: dict) -> None:
    r = runs["gated"]
    levels = bias.miou_by_level(r)
    for label, value in levels.items():
        if label.endswith("LUFS"):
            assert value.value == (1.0 if float(label[:-4]) >= -38 else 0.0), label
    gap = bias.intensity_gap(r)
    assert gap.value == 1.0 and gap.ci_low == gap.ci_high == 1.0


class VisibleObjects(ModelAdapter):
    """Known answer: covers exactly the visible objects (of ``classes``; all by default), whatever the audio:
    a planted visual prior."""

    name = "visible-objects"

    def __init__(self, classes: set[str] | None = None) -> None:
        super().__init__()
        self.classes = classes

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        out = torch.full((b, t, h, w), -10.0)
        for i, probed in enumerate(batch.truth):
            classes = probed.applied.get("object_classes", {})
            for obj, mask in probed.object_masks.items():
                if self.classes is None or classes.get(obj) in self.classes:
                    out[i][torch.from_numpy(mask.copy())] = 10.0
        return out


def test_covering_the_visible_objects_is_a_full_prior(lab: Path, tmp_path: Path) -> None:
    source = open_data(lab, split="test")
    run_suite(VisibleObjects(), ProbeSuite.single("negative"), source, tmp_path / "v", limit=12)
    r = load_records(tmp_path / "v")
    coverage = bias.prior_coverage(r)
    assert set(coverage) == {"silence", "background", "white", "pink", "offscreen"}
    assert all(v.value == 1.0 for v in coverage.values())
    assert all(value == 1.0 for value in coverage["silence"].by_group.values())
    # fpr_silence is then the visible objects' area, recomputed from the clips themselves
    areas = []
    for sample in (source.reader.read(i) for i in r.sample_id.unique()):
        union = np.zeros(sample.mask.shape, dtype=bool)
        for obj in sample.objects:
            union |= obj.mask
        areas.append(union[sample.annotated].mean(axis=(1, 2)).mean())
    assert bias.false_positive_rates(r)["fpr_silence"].value == pytest.approx(float(np.mean(areas)), abs=1e-12)
    # the balanced test split has silent objects in most clips: all of them covered
    silent = bias.silent_object_coverage(r)
    assert silent.value == 1.0 and silent.n_clips >= 6
    background = r[(r.condition_label == "background") & (r.status == "ok")]
    assert background.sample_id.nunique() == 12
    assert {json.loads(a)["background_lufs"] for a in background.applied} == {-60.0}


def test_piano_prior_is_found_and_correlates_with_training_frequency(lab: Path, tmp_path: Path) -> None:
    source = open_data(lab, split="train")
    run_suite(VisibleObjects({"piano"}), ProbeSuite.single("negative"), source, tmp_path / "p", limit=40)
    r = load_records(tmp_path / "p")
    scores = bias.prior_scores(r)
    assert scores["piano"].value == 1.0
    assert all(v.value == 0.0 for cls, v in scores.items() if cls != "piano")
    frequency = BiasLabWorld(lab).training_sounding_frequency()
    corr = bias.prior_corr(r, frequency)
    # by hand: scores are 1 for piano (the most frequent of 8 classes) and 0 for the 7 others, so the score
    # ranks are 8 for piano and 4 for the tied rest, the frequency ranks 1..8 with piano 8: Spearman's rho is
    # cov / (sd sd) = 14 / sqrt(14 * 42) = 1 / sqrt(3)
    assert max(frequency, key=frequency.get) == "piano" and len(set(frequency.values())) == len(frequency) == 8
    assert corr.value == pytest.approx(1 / math.sqrt(3), abs=1e-12)


def test_metric_values_equal_an_independent_recomputation(runs: dict) -> None:
    r = runs["audio-blind-oracle"]
    rows = r[(r.probe == "intensity") & (r.status == "ok") & r.annotated]
    for label, value in bias.miou_by_level(r).items():
        chosen = rows[rows.condition_label == label]
        clips = [g.iou.mean() for _, g in chosen.groupby("sample_id")]
        assert value.value == pytest.approx(float(np.mean(clips)), abs=1e-12)
    mix = r[(r.probe == "mix") & (r.status == "ok") & r.annotated & r.condition_label.str.contains(r"\+")]
    per_clip: dict[str, list[float]] = {}
    for (sample, label), group in mix.groupby(["sample_id", "condition_label"]):
        a_level, b_level = label.split("+")
        if a_level[2:] != b_level[2:]:
            continue
        cov = object_values(group, "coverage")
        a, b = np.mean([c["A"] for c in cov]), np.mean([c["B"] for c in cov])
        if a + b > 0:
            per_clip.setdefault(sample, []).append(abs(a - b) / (a + b))
    expected = float(np.mean([np.mean(v) for v in per_clip.values()]))
    assert bias.dominance(r).value == pytest.approx(expected, abs=1e-12)


def test_bootstrap_interval_is_seeded_and_covers_the_mean() -> None:
    values = np.random.default_rng(0).normal(0.5, 0.1, 200)
    point, low, high = bias.bootstrap(values)
    assert low < point < high and (low, high) == bias.bootstrap(values)[1:]
    assert math.isnan(bias.bootstrap(np.array([]))[0])


def test_additivity_and_paired_differences(runs: dict) -> None:
    assert bias.additivity(runs["oracle"]).value == 1.0
    diff = paired_difference("intensity_gap", runs["gated"], runs["oracle"])
    assert diff.value == 1.0 and diff.ci_low == diff.ci_high == 1.0
    blind = paired_difference("fpr_silence", runs["audio-blind-oracle"], runs["oracle"])
    assert blind.value == bias.false_positive_rates(runs["audio-blind-oracle"])["fpr_silence"].value > 0
    curves = bias.miou_by_level_and_class(runs["gated"])
    assert curves and all(v.value == (1.0 if float(k.split("@")[1][:-4]) >= -38 else 0.0)
                          for k, v in curves.items() if k.endswith("LUFS") and v.n_clips)


def test_max_minus_min_gets_an_interval_that_contains_it() -> None:
    """Three classes whose clips average exactly 0.5 each (spread 0), each clip showing one class: every
    resample's spread is positive, so plain percentiles miss the estimate; the median-corrected interval
    contains it."""
    values = np.full((30, 3), np.nan)
    for clip in range(30):
        values[clip, clip % 3] = 0.4 if (clip // 3) % 2 else 0.6

    def spread(v: np.ndarray) -> float:
        means = bias._column_means(v)
        means = means[np.isfinite(means)]
        return float(means.max() - means.min()) if means.size >= 2 else math.nan

    point, low, high = bias.bootstrap(values, spread)
    assert not low <= point <= high  # the failure the plain percentile interval shows
    point_c, low_c, high_c = bias.bootstrap(values, spread, median_corrected=True)
    assert point_c == point and low_c <= point <= high_c
    assert high_c - low_c == pytest.approx(high - low)  # the same width, shifted by the median's bias


def test_a_missed_level_is_read_from_the_json_not_its_spelling() -> None:
    """The flag is a JSON field: a compact writer (no space after the colon) must not hide a missed level."""
    import pandas as pd

    rows = pd.DataFrame([
        {"sample_id": "a", "probe": "intensity", "condition_label": "-23LUFS", "status": "ok", "annotated": True,
         "is_baseline": False, "applied": json.dumps({"level_reached_ok": False}, separators=(",", ":"))},
        {"sample_id": "b", "probe": "intensity", "condition_label": "-23LUFS", "status": "ok", "annotated": True,
         "is_baseline": False, "applied": json.dumps({"level_reached_ok": True})},
    ])
    assert bias.missed_levels(rows) == {"-23LUFS": 1}
