"""The AVSBench-Robust and negative-audio SSL protocols on known-answer adapters, against values computed by
hand from the clips themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avsprobe.adapters import resolve_model
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.metrics.protocols import AOC_THRESHOLDS, aoc, robust_protocol, ssl_protocol
from avsprobe.probes.suite import ProbeSuite
from avsprobe.report.build import build_report
from avsprobe.results import load_records
from avsprobe.runner import run_suite

CLIPS = 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("protocol-world") / "w"
    build_world(root, clips=40, workers=2)
    source = open_data(root, split="test")
    out = tmp_path_factory.mktemp("protocol-runs")
    for model in ("oracle", "audio-blind-oracle"):
        run_suite(resolve_model(model), ProbeSuite.single("negative"), source, out / model, limit=CLIPS)
    return {"source": source, "dirs": {m: out / m for m in ("oracle", "audio-blind-oracle")},
            **{m: load_records(out / m) for m in ("oracle", "audio-blind-oracle")}}


def _original_masks(source, ids) -> dict:  # noqa: ANN001
    """Each clip's annotated sounding masks, read from the data (independent of the records)."""
    out = {}
    for sample_id in ids:
        sample = source.reader.read(sample_id)
        out[sample_id] = sample.mask[sample.annotated]
    return out


def _script_reference(masks: dict, predicted: dict) -> dict[str, float]:
    """AVSBench-Robust's test loop re-implemented from its code (tests/metrics/reference_impl.py): clips in order,
    2 a batch, mask_iou / Eval_Fmeasure / calculate_FPR per batch, averaged over batches."""
    import torch

    from tests.metrics.reference_impl import (
        ref_fmeasure_batch,
        ref_fpr_batch,
        ref_mask_iou_batch,
        ref_over_batches,
    )

    target = torch.from_numpy(np.concatenate([masks[c] for c in masks]).astype(np.float32))
    pred = torch.from_numpy(np.concatenate([predicted[c] for c in masks]).astype(np.float32)) * 20 - 10
    frames = 2 * next(iter(masks.values())).shape[0]
    return {"miou": ref_over_batches(ref_mask_iou_batch, pred, target, frames),
            "fscore": ref_over_batches(ref_fmeasure_batch, pred, target, frames),
            "fpr": ref_over_batches(ref_fpr_batch, pred, None, frames)}


def _official_aoc(pia: list[float]) -> float:
    """vssl_eval's compute_AUC_pIA x 100, written out: y_i = share of samples with pIA <= 0.05 i, trapezoids."""
    y = [np.sum(np.array(pia) <= 0.05 * i) / len(pia) for i in range(21)]
    x = [0.05 * i for i in range(21)]
    return 100 * sum((y[i] + y[i + 1]) / 2 * (x[i + 1] - x[i]) for i in range(20))


def test_the_oracle_segments_nothing_under_negative_audio(runs: dict) -> None:
    r = runs["oracle"]
    masks = _original_masks(runs["source"], r.sample_id.unique())
    robust = robust_protocol(r)
    assert set(robust) == {"silence", "background", "white", "pink", "offscreen"}
    script = _script_reference(masks, {c: np.zeros_like(m) for c, m in masks.items()})
    # empty predictions against the original masks: strictly, IoU 1 on frames where nothing sounded, else 0
    per_clip = [np.mean([float(not m.any()) for m in frames]) for frames in masks.values()]
    for values in robust.values():
        assert values["miou_canonical"].value == pytest.approx(float(np.mean(per_clip)), abs=1e-12)
        assert values["miou"].value == pytest.approx(script["miou"], abs=1e-6)
        # not 0: at the first threshold (0) every pixel counts as predicted, so F there is that of the whole frame
        assert values["fscore"].value == pytest.approx(script["fscore"], abs=1e-6) and script["fscore"] > 0
        assert values["fpr"].value == 0.0 and values["fpr_canonical"].value == 0.0
    ssl = ssl_protocol(r, positive_miou=1.0)
    assert ssl.pop("silence+noise+offscreen")["f_pos_neg"].value == 100.0
    for values in ssl.values():
        # nothing predicted: every sample at pIA 0, so y(t) = 1 everywhere and the area under it is 100
        assert values["pia"].value == 0.0 and values["aoc"].value == pytest.approx(100.0, abs=1e-9)
        assert values["hm"].value == 100.0  # 2 * 100 * 100 / (100 + 100)


def test_the_audio_blind_oracle_keeps_the_original_masks(runs: dict) -> None:
    r = runs["audio-blind-oracle"]
    masks = _original_masks(runs["source"], r.sample_id.unique())
    robust = robust_protocol(r)
    script = _script_reference(masks, masks)
    frames = [m for clip in masks.values() for m in clip]
    expected_fpr = float(np.mean([m.mean() for m in frames]))  # pooled over frames, as AVSBench-Robust
    for label, values in robust.items():
        assert values["miou_canonical"].value == 1.0, label  # the prediction is the original mask itself
        assert values["fscore_canonical"].value == pytest.approx(1.0, abs=1e-9)
        assert values["fpr_canonical"].value == pytest.approx(expected_fpr, abs=1e-12) and expected_fpr > 0
        assert values["fpr_canonical"].ci_low <= expected_fpr <= values["fpr_canonical"].ci_high
        for key in ("miou", "fscore", "fpr"):
            assert values[key].value == pytest.approx(script[key], abs=1e-6), (label, key)
    ssl = ssl_protocol(r, positive_miou=0.8)
    pia = [float(m.mean()) for m in frames]
    for label in ("silence", "background", "white", "pink", "offscreen"):
        values = ssl[label]
        assert values["pia"].value == pytest.approx(100 * float(np.mean(pia)), abs=1e-9)
        assert values["aoc"].value == pytest.approx(_official_aoc(pia), abs=1e-9) and 0 < values["aoc"].value < 100
        assert values["aoc"].ci_low <= values["aoc"].value <= values["aoc"].ci_high
        rest = 100 - values["pia"].value
        assert values["hm"].value == pytest.approx(2 * 80 * rest / (80 + rest), abs=1e-9)
    rest = 100 - 100 * float(np.mean(pia))  # the same masks under every negative
    assert ssl["silence+noise+offscreen"]["f_pos_neg"].value == pytest.approx(2 * 80 * rest / (80 + rest), abs=1e-9)


def test_aoc_by_hand() -> None:
    assert AOC_THRESHOLDS[0] == 0.0 and AOC_THRESHOLDS[-1] == 1.0 and len(AOC_THRESHOLDS) == 21
    assert AOC_THRESHOLDS[3] == 0.05 * 3 != 0.15  # the official thresholds, float rounding included
    # nothing predicted: 100 (higher is better); the whole frame everywhere: y is 0 up to t = 0.95 and 1 at
    # t = 1, so only half the last trapezoid counts: 2.5
    assert aoc(np.zeros(4)) == pytest.approx(100.0) and aoc(np.ones(3)) == pytest.approx(2.5)
    # one sample at pIA 0.5: y is 0 for t < 0.5 and 1 from 0.5: half a trapezoid and 10 full ones
    assert aoc(np.array([0.5])) == pytest.approx(100 * (0.025 + 0.5))
    # half the samples at 0, half at 0.1: y is 0.5 at t = 0 and 0.05, then 1
    assert aoc(np.array([0.0, 0.1])) == pytest.approx(100 * (0.5 * 0.05 + 0.75 * 0.05 + 0.9))
    # a sample at exactly 0.15 is not <= 0.05 * 3 (0.15000000000000002 > 0.15 is false: it is counted)
    assert aoc(np.array([0.15])) == pytest.approx(_official_aoc([0.15]))


def test_the_report_has_a_section_per_protocol(runs: dict, tmp_path: Path) -> None:
    content = build_report(list(runs["dirs"].values()), tmp_path / "rep")
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## AVSBench-Robust protocol" in text and "## Negative-audio sound-source-localisation metrics" in text
    assert "| audio-blind-oracle | silence | 1.000" in text
    assert content["runs"][0]["protocols"]["avsbench_robust"]["silence"]["fpr"]["value"] == 0.0
    assert "avsbench_robust" in content["metric_definitions"] and "G-mIoU" in content["metric_definitions"]["avsbench_robust"]
    assert "AVSBench-Robust protocol" in (tmp_path / "rep" / "report.html").read_text()
