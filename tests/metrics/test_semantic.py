"""AVSS semantic metrics against the loop re-implementation of the reference (OpenNLPLab/AVSBench
``avss/utils/compute_color_metrics.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avsprobe.metrics import SemanticMetricAccumulator, avss_scores, semantic_frame_stats
from tests.metrics.reference_impl import ref_avss


def _case(seed: int, n: int = 8, k: int = 71, h: int = 10, w: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 6, (n, h, w), generator=g)
    labels[labels > 3] = 0  # mostly background, a few classes
    labels[0] = 0  # a padded, all-background frame
    logits = torch.randn(n, k, h, w, generator=g)
    # make the prediction right about two thirds of the time
    right = torch.rand(n, h, w, generator=g) > 0.33
    logits.scatter_add_(1, labels[:, None], (right.float() * 10)[:, None])
    return logits, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_avss_legacy_matches_reference_loop(seed: int) -> None:
    logits, labels = _case(seed)
    scores = avss_scores(semantic_frame_stats(logits, labels))
    ref_miou, ref_f = ref_avss(logits, labels)
    assert scores["miou"] == pytest.approx(ref_miou, abs=1e-6)
    assert scores["fscore"] == pytest.approx(ref_f, abs=1e-6)


def test_avss_edge_cases_match_reference() -> None:
    n, k, h, w = 3, 71, 5, 5
    labels = torch.zeros(n, h, w, dtype=torch.long)
    labels[1, :2] = 47  # piano rows
    logits = torch.zeros(n, k, h, w)
    logits[:, 0] = 1.0  # everything predicted background
    for lg in (logits, torch.zeros(n, k, h, w)):  # all-equal logits: argmax ties -> class 0
        scores = avss_scores(semantic_frame_stats(lg, labels))
        ref_miou, ref_f = ref_avss(lg, labels)
        assert scores["miou"] == pytest.approx(ref_miou, abs=1e-6)
        assert scores["fscore"] == pytest.approx(ref_f, abs=1e-6)


def test_hand_computed_semantic_values() -> None:
    # 1 frame, 3 classes, 2x2: labels [[1,1],[0,0]], prediction [[1,0],[0,0]]
    labels = torch.tensor([[[1, 1], [0, 0]]])
    pred = torch.tensor([[[1, 0], [0, 0]]])
    logits = torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float() * 5
    stats = semantic_frame_stats(logits, labels)
    out = avss_scores(stats)
    # class 0: I=2, U=3 -> 2/3 ; class 1: I=1, U=2 -> 1/2 ; class 2 unseen -> 0 ; mean over 3 classes
    assert out["miou"] == pytest.approx((2 / 3 + 1 / 2) / 3, abs=1e-7)
    # F: class 0 P=2/3 R=1 -> 1.3*(2/3)/(0.2+1); class 1 P=1 R=1/2 -> 1.3*0.5/(0.3+0.5)
    f0 = 1.3 * (2 / 3) / (0.3 * (2 / 3) + 1)
    f1 = 1.3 * 0.5 / (0.3 + 0.5)
    assert out["fscore"] == pytest.approx((f0 + f1) / 3, abs=1e-7)
    present = avss_scores(stats, class_average="present")
    assert present["miou"] == pytest.approx((2 / 3 + 1 / 2) / 2, abs=1e-7)
    no_bg = avss_scores(stats, class_average="present", include_background=False)
    assert no_bg["miou"] == pytest.approx(1 / 2, abs=1e-7)
    assert np.isnan(out["per_class_iou"][2])


def test_padded_frames_dropped_in_canonical_mode() -> None:
    logits, labels = _case(4)
    acc = SemanticMetricAccumulator()
    valid = np.ones(len(labels), dtype=bool)
    valid[0] = False
    acc.update(logits, labels, frame_valid=valid)
    legacy = acc.compute()
    canonical = acc.compute(legacy=False)
    direct = avss_scores(semantic_frame_stats(logits[1:], labels[1:]), class_average="present")
    assert canonical["miou"] == pytest.approx(direct["miou"], abs=1e-12)
    assert legacy["miou"] != pytest.approx(canonical["miou"], abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_avss_argmax_is_taken_in_the_logits_dtype(dtype: torch.dtype) -> None:
    """The reference takes ``argmax(softmax(pred))`` in the logits' dtype: near-tied half-precision logits whose
    float32 softmax would break the tie must score as the reference scores them (3.2e-4 apart in F before)."""
    g = torch.Generator().manual_seed(7)
    labels = torch.randint(0, 4, (6, 12, 9), generator=g)
    # near-equal logits over all 71 classes: each probability is about 1/71, where a half-precision softmax
    # rounds neighbours to one value (the argmax then falls on the first), a float32 one does not
    low = (torch.rand(6, 71, 12, 9, generator=g) * 0.002).to(dtype)
    scores = avss_scores(semantic_frame_stats(low, labels))
    ref_miou, ref_f = ref_avss(low, labels)
    assert scores["miou"] == pytest.approx(ref_miou, abs=1e-6)
    assert scores["fscore"] == pytest.approx(ref_f, abs=1e-6)
    if dtype != torch.float64:  # the case is a real test: a float32 argmax would differ
        assert not torch.equal(torch.softmax(low, 1).argmax(1), torch.softmax(low.float(), 1).argmax(1))
