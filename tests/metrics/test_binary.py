"""Binary metrics against the loop re-implementation of the AVSBench reference, and canonical invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avsprobe.metrics import (
    BinaryMetricAccumulator,
    binary_frame_stats,
    canonical_fscore,
    canonical_miou,
    frame_iou,
    legacy_fpr,
    legacy_fscore,
    legacy_miou,
    object_coverage,
)
from tests.metrics.reference_impl import (
    ref_fmeasure_batch,
    ref_fpr_batch,
    ref_mask_iou_batch,
    ref_over_batches,
)


def _case(name: str, n: int = 10, h: int = 12, w: int = 9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(n, h, w, generator=g) > 0.6).float()
    logits = torch.randn(n, h, w, generator=g) * 3
    if name == "random":
        target[2] = 0  # one empty-GT frame among random ones
    elif name == "empty_gt":
        target.zero_()
    elif name == "empty_pred":
        logits = torch.full((n, h, w), -20.0)
    elif name == "all_ones":
        target.fill_(1)
        logits = torch.full((n, h, w), 20.0)
    elif name == "saturated":
        logits = torch.where(torch.rand(n, h, w, generator=g) > 0.5, 40.0, -40.0)
    elif name == "tiny_positive":
        # float32 sigmoid rounds to exactly 0.5 for these: the reference calls them negative.
        logits = torch.rand(n, h, w, generator=g) * 5e-8
        target[::2] = 0
    elif name == "mixed_empty":
        target[: n // 2] = 0
    return logits, target


CASES = ["random", "empty_gt", "empty_pred", "all_ones", "saturated", "tiny_positive", "mixed_empty"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_legacy_metrics_match_reference_loops(case: str, batch_size: int) -> None:
    logits, target = _case(case, n=20)
    stats = binary_frame_stats(logits, target)
    frames = batch_size * 5
    assert legacy_miou(stats, batch_size=batch_size) == pytest.approx(
        ref_over_batches(ref_mask_iou_batch, logits, target, frames), abs=1e-6)
    assert legacy_fscore(stats, batch_size=batch_size) == pytest.approx(
        ref_over_batches(ref_fmeasure_batch, logits, target, frames), abs=1e-6)
    assert legacy_fpr(stats, batch_size=batch_size) == pytest.approx(
        ref_over_batches(ref_fpr_batch, logits, None, frames), abs=1e-6)


def test_legacy_short_last_batch_is_overweighted_like_the_reference() -> None:
    logits, target = _case("random", n=7, seed=3)  # batches of 5 then 2 frames
    stats = binary_frame_stats(logits, target)
    assert legacy_miou(stats, batch_size=1) == pytest.approx(
        ref_over_batches(ref_mask_iou_batch, logits, target, 5), abs=1e-6)
    assert legacy_fscore(stats, batch_size=1) == pytest.approx(
        ref_over_batches(ref_fmeasure_batch, logits, target, 5), abs=1e-6)


def test_legacy_fscore_depends_on_batch_size_canonical_does_not() -> None:
    logits, target = _case("random", n=40, seed=5)
    stats = binary_frame_stats(logits, target)
    assert legacy_fscore(stats, batch_size=1) != pytest.approx(legacy_fscore(stats, batch_size=4), abs=1e-9)
    # the canonical value from the frames split into batches of 5 and 20 (accumulated) equals the one-shot value
    one_shot = canonical_fscore(stats)
    assert math.isfinite(one_shot)
    for frames in (5, 20):
        acc = BinaryMetricAccumulator()
        for start in range(0, 40, frames):
            acc.update(logits[start : start + frames], target[start : start + frames])
        assert acc.compute()["fscore"] == one_shot


def _near_threshold_case(dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose sigmoids sit on the F thresholds (k/254), where dtype rounding decides the count."""
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(10, 16, 16, generator=g) > 0.5).float()
    k = torch.randint(0, 255, (10, 16, 16), generator=g)
    logits = torch.logit(k / 254.0, eps=1e-6).double() + torch.randn(10, 16, 16, generator=g, dtype=torch.float64) * 1e-8
    return (logits + 0.02 * target).to(dtype), target


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_native_score_dtype_matches_the_reference_in_the_logits_dtype(dtype: torch.dtype) -> None:
    """The reference's sigmoid runs in the logits' dtype and its thresholds are cast to it."""
    logits, target = _near_threshold_case(dtype)
    native = binary_frame_stats(logits, target, score_dtype="native")
    for bs in (1, 2):
        assert legacy_miou(native, batch_size=bs) == pytest.approx(
            ref_over_batches(ref_mask_iou_batch, logits, target, bs * 5), abs=1e-7)
        assert legacy_fscore(native, batch_size=bs) == ref_over_batches(ref_fmeasure_batch, logits, target, bs * 5)


def test_float64_tiny_logits_follow_the_reference_only_in_the_avsbench_ids() -> None:
    from avsprobe.metrics.definitions import METRICS

    logits = torch.tensor([1e-9, -1e-9], dtype=torch.float64).repeat(5 * 64).reshape(5, 8, 16)
    target = (logits > 0).float()
    assert ref_over_batches(ref_mask_iou_batch, logits, target, 5) == 1.0  # the reference: a perfect prediction
    assert ref_over_batches(ref_fmeasure_batch, logits, target, 5) == 1.0
    assert METRICS.get("miou.avsbench@bs1").compute(logits, target) == 1.0
    assert METRICS.get("fscore.avsbench@bs1").compute(logits, target) == 1.0
    assert METRICS.get("miou.canonical").compute(logits, target) == 0.0  # float32: every sigmoid is exactly 0.5
    acc = BinaryMetricAccumulator()
    acc.update(logits, target)
    assert acc.compute_legacy(batch_size=1)["miou"] == 1.0
    assert acc.compute()["miou"] == 0.0
    # the float32 path, used by the canonical ids, differs from the reference on near-threshold float64 logits
    near, near_target = _near_threshold_case(torch.float64)
    assert legacy_fscore(binary_frame_stats(near, near_target), batch_size=1) != legacy_fscore(
        binary_frame_stats(near, near_target, score_dtype="native"), batch_size=1)


def test_tiny_positive_logits_are_negative() -> None:
    stats = binary_frame_stats(torch.full((1, 3, 3), 1e-8), torch.ones(1, 3, 3))
    assert stats.pred_area.tolist() == [0]
    assert stats.intersection.tolist() == [0]


def test_hand_computed_frame_statistics() -> None:
    logits = torch.tensor([[[5.0, 5.0], [-5.0, -5.0]], [[5.0, -5.0], [-5.0, -5.0]]])
    target = torch.tensor([[[1, 0], [1, 0]], [[0, 0], [0, 0]]])
    stats = binary_frame_stats(logits, target)
    assert stats.intersection.tolist() == [1, 0]
    assert stats.pred_area.tolist() == [2, 1]
    assert stats.gt_area.tolist() == [2, 0]
    assert stats.union.tolist() == [3, 1]
    # frame 0: IoU 1/3; frame 1 (empty GT, one false positive): strict 0, tn_ratio 3/4
    np.testing.assert_allclose(frame_iou(stats, empty_policy="strict"), [1 / 3, 0.0])
    np.testing.assert_allclose(frame_iou(stats, empty_policy="tn_ratio"), [1 / 3, 0.75])
    assert canonical_miou(stats, empty_policy="skip") == pytest.approx(1 / 3)
    # threshold 0 counts every pixel; the last threshold (exactly 1.0) counts none of sigmoid(5) < 1
    assert stats.pp_at[0, 0] == 4 and stats.tp_at[0, 0] == 2
    assert stats.pp_at[0, -1] == 0


def test_fscore_curve_counts_equal_threshold_loop() -> None:
    logits, target = _case("random", n=6, seed=11)
    stats = binary_frame_stats(logits, target)
    scores = torch.sigmoid(logits)
    thresholds = torch.linspace(0, 1 - 1e-10, 255)
    for k in (0, 1, 100, 127, 253, 254):
        positive = scores >= thresholds[k]
        assert stats.pp_at[:, k].tolist() == positive.sum(dim=(1, 2)).tolist()
        assert stats.tp_at[:, k].tolist() == (positive & (target > 0)).sum(dim=(1, 2)).tolist()


def test_canonical_results_identical_after_rebatching_and_shuffling() -> None:
    logits, target = _case("random", n=60, seed=7)
    target[10:20] = 0
    whole = BinaryMetricAccumulator()
    whole.update(logits, target)
    expected = whole.compute()
    perm = torch.from_numpy(np.random.default_rng(0).permutation(60))
    shuffled = BinaryMetricAccumulator()
    start = 0
    for size in (1, 7, 13, 2, 30, 7):
        idx = perm[start : start + size]
        shuffled.update(logits[idx], target[idx])
        start += size
    assert start == 60
    assert shuffled.compute() == expected  # bit-identical, not approximately equal


def test_canonical_empty_policy_strict() -> None:
    target = torch.zeros(2, 4, 4)
    logits = torch.full((2, 4, 4), -9.0)
    logits[1, 0, 0] = 9.0  # one false positive pixel
    stats = binary_frame_stats(logits, target)
    assert frame_iou(stats).tolist() == [1.0, 0.0]
    assert math.isnan(canonical_fscore(stats))  # F is undefined without any object
    acc = BinaryMetricAccumulator()
    acc.update(logits, target)
    assert acc.compute()["fpr_empty"] == pytest.approx(0.5 / 16)


def test_canonical_fscore_equals_independent_dataset_curve() -> None:
    logits, target = _case("random", n=15, seed=2)
    thresholds = torch.linspace(0, 1 - 1e-10, 255).double()
    curves = []
    for i in range(15):
        gt = target[i] > 0
        if not gt.any():
            continue
        row = []
        for t in thresholds:
            # thresholds compared in float32, as the statistics are
            b = torch.sigmoid(logits[i]) >= t.float()
            tp = float((b & gt).sum())
            p = tp / float(b.sum()) if b.sum() > 0 else 0.0
            r = tp / float(gt.sum())
            row.append(1.3 * p * r / (0.3 * p + r) if (0.3 * p + r) > 0 else 0.0)
        curves.append(row)
    expected = max(np.mean(np.array(curves), axis=0))
    assert canonical_fscore(binary_frame_stats(logits, target)) == pytest.approx(expected, abs=1e-12)
    # frames with empty ground truth are left out: whatever is predicted there changes nothing
    empty = target.flatten(1).sum(1) == 0
    assert empty.any()
    changed = logits.clone()
    changed[empty] = 20.0
    assert canonical_fscore(binary_frame_stats(changed, target)) == canonical_fscore(binary_frame_stats(logits, target))


def test_object_coverage() -> None:
    logits = torch.full((1, 4, 4), -5.0)
    logits[0, :2, :] = 5.0  # top half predicted
    masks = torch.zeros(1, 3, 4, 4, dtype=torch.bool)
    masks[0, 0, 0, :] = True  # fully covered
    masks[0, 1, 1:3, 0] = True  # half covered
    cov = object_coverage(logits, masks)
    assert cov.shape == (1, 3)
    assert cov[0, 0] == 1.0 and cov[0, 1] == 0.5 and math.isnan(cov[0, 2])
    single = object_coverage(logits, masks[:, 1])
    assert single.tolist() == [0.5]


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        binary_frame_stats(torch.zeros(2, 4, 4), torch.zeros(2, 4, 5))


def test_numpy_inputs_work() -> None:
    logits, target = _case("random", n=5)
    a = binary_frame_stats(logits.numpy(), target.numpy().astype(bool))
    b = binary_frame_stats(logits, target)
    assert np.array_equal(a.tp_at, b.tp_at) and np.array_equal(a.intersection, b.intersection)


def test_threshold_location_is_exact_at_and_beside_every_threshold() -> None:
    from avsprobe.metrics.binary import _threshold_location, f_thresholds

    tau = f_thresholds()
    below = torch.nextafter(tau, torch.tensor(-1.0))
    above = torch.nextafter(tau, torch.tensor(2.0)).clamp_max(1.0)
    scores = torch.cat([tau, below.clamp_min(0), above, torch.rand(10_000, generator=torch.Generator().manual_seed(1))])
    expected = torch.searchsorted(tau, scores, right=True)
    assert torch.equal(_threshold_location(scores[None].clone(), tau)[0].long(), expected)


def test_clips_object_coverage_equals_hand_counts_clip_by_clip() -> None:
    """The batched coverage of a model call's clips: each clip's objects against its own prediction, by hand,
    with clips that have no objects and frames where an object is absent (NaN)."""
    from avsprobe.metrics.binary import clips_object_coverage, object_coverage

    rng = np.random.default_rng(3)
    logits = rng.standard_normal((3, 2, 4, 5)).astype(np.float32)
    masks = [rng.random((2, 2, 4, 5)) > 0.6, None, rng.random((2, 3, 4, 5)) > 0.3]
    masks[2][1, 0] = False  # object 0 of clip 2 absent from frame 1
    got = clips_object_coverage(logits, masks)
    assert got[1] is None
    for clip in (0, 2):
        pred = logits[clip] > 0  # sigmoid > 0.5
        hand = np.full(masks[clip].shape[:2], np.nan)
        for t in range(2):
            for o in range(masks[clip].shape[1]):
                area = masks[clip][t, o].sum()
                if area:
                    hand[t, o] = (masks[clip][t, o] & pred[t]).sum() / area
        np.testing.assert_array_equal(got[clip], hand)
        np.testing.assert_array_equal(got[clip], object_coverage(logits[clip], masks[clip]))
    assert np.isnan(got[2][1, 0])


def test_clips_object_counts_by_hand() -> None:
    """Covered pixels and areas per frame and object: numpy and torch masks, bool or 0/1 bytes alike; a clip
    without objects is None; masks of another frame size are refused."""
    from avsprobe.metrics.binary import clips_object_counts, coverage_from_counts

    logits = torch.full((2, 2, 3, 3), -4.0)
    logits[0, 0, 0, :] = 4.0  # clip 0, frame 0: top row predicted
    logits[1, 1] = 4.0  # clip 1, frame 1: everything predicted
    masks0 = np.zeros((2, 2, 3, 3), dtype=np.uint8)
    masks0[0, 0, 0, :2] = 1  # 2 pixels, both predicted
    masks0[0, 1, :, 0] = 1  # 3 pixels, 1 predicted
    masks0[1, 0, 2, 2] = 1  # 1 pixel, none predicted (frame 1 of clip 0 predicts nothing)
    masks1 = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    masks1[1, 0, 1:, 1:] = True  # 4 pixels, all predicted
    got = clips_object_counts(logits, [masks0, masks1, None])
    assert len(got) == 3 and got[2] is None
    assert got[0][0].tolist() == [[2, 1], [0, 0]] and got[0][1].tolist() == [[2, 3], [1, 0]]
    assert got[1][0].tolist() == [[0], [4]] and got[1][1].tolist() == [[0], [4]]
    coverage = coverage_from_counts(*got[0])
    assert coverage[0].tolist() == [1.0, 1 / 3] and coverage[1, 0] == 0.0 and math.isnan(coverage[1, 1])
    with pytest.raises(ValueError, match="do not match predictions"):
        clips_object_counts(logits[:1], [np.zeros((2, 1, 3, 4), dtype=bool)])


@pytest.mark.parametrize("chunk_frames", [1, 3, 100])
def test_stats_against_several_targets_equal_one_call_per_target(chunk_frames: int, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """One pass over the logits for several targets (all frames, or a subset of them) gives each target the
    statistics of its own call, whatever the chunking of frames."""
    from avsprobe.metrics import binary

    logits, target = _case("random", n=8)
    subset = [1, 2, 5, 7]
    other = torch.rand(len(subset), *target.shape[1:], generator=torch.Generator().manual_seed(5)) > 0.3
    monkeypatch.setattr(binary, "_CHUNK_PIXELS", chunk_frames * target.shape[1] * target.shape[2])
    got = binary.binary_frame_stats_many(logits, [(subset, other), (None, target), ([], other[:0])])
    want = [binary_frame_stats(logits[subset], other), binary_frame_stats(logits, target)]
    for a, b in zip(got[:2], want, strict=True):
        for name in ("intersection", "pred_area", "gt_area", "tp_at", "pp_at"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert len(got[2]) == 0 and got[2].tp_at.shape == (0, 255)
    with pytest.raises(ValueError, match="does not match 3 frames"):
        binary.binary_frame_stats_many(logits, [([0, 1, 2], other)])
