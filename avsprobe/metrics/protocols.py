"""Other papers' negative-audio protocols, computed from the records of the ``negative`` probe, each as its
authors' code computes it.

* **AVSBench-Robust** (Li et al., "Do audio-visual segmentation models truly segment sounding objects?",
  2025), as its test script computes it (jiali-home/AVSBench-Robust@03e925d,
  ``training_evaluation/code/AVSegFormer/scripts/s4/test.py`` with ``scripts/s4/utility.py``): under each
  negative audio, the clips in dataset order in batches of ``batch_clips`` (2, the test configs'
  ``batch_size``); per batch ``mask_iou`` against the clip's *original* positive masks (an empty mask scores
  its true-negative ratio), ``Eval_Fmeasure`` (the batch's mean 255-threshold F curve over frames with an
  object, its max; 0 for a batch without one) and ``calculate_FPR`` (pixels with sigmoid > 0.5 over H*W,
  averaged over the batch's frames); each averaged over batches. Beside them, labelled ``*_canonical``, the
  batch-free variant: per frame with the strict empty policy, per clip then over clips, and the dataset-level
  F, with clip-bootstrap intervals. Their G-mIoU, G-F and G-FPR have no public definition and are left out.
* **Negative-audio sound-source localisation** (Juanola, Haro, Fuentes, ICASSP 2025), as xavijuanola/vssl_eval
  @e8ebbc9 computes it (``utils_dir/eval_utils.py``: ``compute_pIA``, ``compute_AUC_pIA``,
  ``compute_metrics``, ``compute_f``): one sample is one annotated frame (their samples are images); ``pIA``
  is the fraction of the frame predicted active, reported as 100 x its mean; ``AOC`` is 100 x the trapezoid
  area *under* ``y(t)`` = fraction of samples with pIA <= t, t = 0.05 i for i = 0..20 (higher is better: 100
  when nothing is predicted anywhere); ``HM`` the harmonic mean of the positive performance ``P`` and
  100 - pIA, and ``F_Pos_Neg`` the harmonic mean of ``P`` and the mean of 100 - pIA over silence, noise and
  off-screen audio (noise: white and pink frames together). ``P`` is 100 x the run's mIoU with the original
  audio, where theirs is a localisation cIoU.

Intervals resample clips (95 %, percentile); the AVSBench-Robust script values have none (their batch means
are the protocol's own numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from avsprobe.metrics.bias import (
    PRIOR_CONDITIONS,
    MetricValue,
    _metric,
    ok_rows,
    percentile_interval,
    resample_weights,
)
from avsprobe.metrics.binary import legacy_fpr, legacy_fscore, legacy_miou
from avsprobe.metrics.stats import frame_stats_of, fscore_with_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NEGATIVE_LABELS", "AOC_THRESHOLDS", "ROBUST_BATCH_CLIPS", "PROTOCOL_METRICS", "ProtocolMetric",
           "robust_protocol", "ssl_protocol", "aoc"]

ROBUST_SOURCE = ("jiali-home/AVSBench-Robust@03e925d:training_evaluation/code/AVSegFormer/scripts/s4/test.py "
                 "(with scripts/s4/utility.py)")
SSL_SOURCE = "xavijuanola/vssl_eval@e8ebbc9:utils_dir/eval_utils.py"


@dataclass(frozen=True)
class ProtocolMetric:
    """One column of a protocol section: its id (``protocol.column``), direction, the code it follows
    (``repository@commit:path``, or ``avsprobe`` for a variant of ours) and definition."""

    id: str
    higher_is_better: bool
    source: str
    definition: str


PROTOCOL_METRICS = (
    ProtocolMetric("avsbench_robust.miou", False, ROBUST_SOURCE,
                   "mask_iou against the original masks per batch of 2 clips (empty mask: true-negative ratio), "
                   "mean over batches; lower = less visual bias"),
    ProtocolMetric("avsbench_robust.fscore", False, ROBUST_SOURCE,
                   "Eval_Fmeasure against the original masks per batch of 2 clips, mean over batches"),
    ProtocolMetric("avsbench_robust.fpr", False, ROBUST_SOURCE,
                   "calculate_FPR: pixels with sigmoid > 0.5 over H*W + 1e-7, mean per batch, mean over batches"),
    ProtocolMetric("avsbench_robust.miou_canonical", False, "avsprobe",
                   "against the original masks, strict empty policy, per clip then over clips"),
    ProtocolMetric("avsbench_robust.fscore_canonical", False, "avsprobe", "fscore.canonical against the original masks"),
    ProtocolMetric("avsbench_robust.fpr_canonical", False, "avsprobe", "fraction of the frame predicted, pooled over frames"),
    ProtocolMetric("negative_audio_ssl.pia", False, SSL_SOURCE + " (compute_pIA)",
                   "100 x the mean over samples (annotated frames) of the fraction of the frame predicted"),
    ProtocolMetric("negative_audio_ssl.aoc", True, SSL_SOURCE + " (compute_AUC_pIA)",
                   "100 x the trapezoid area under the share of samples with pIA <= 0.05 i, i = 0..20"),
    ProtocolMetric("negative_audio_ssl.hm", True, SSL_SOURCE + " (compute_f, f_ciou_pos_*)",
                   "2 P (100 - pIA) / (P + 100 - pIA), P = 100 x mIoU with the original audio"),
    ProtocolMetric("negative_audio_ssl.f_pos_neg", True, SSL_SOURCE + " (compute_f, f_pos_neg)",
                   "harmonic mean of P and the mean of 100 - pIA over silence, noise and off-screen"),
)
"""Every number of the protocol sections, for ``avsprobe metrics``."""

NEGATIVE_LABELS = PRIOR_CONDITIONS
"""The negative conditions each protocol is reported for: the ones ``prior_coverage`` keeps apart."""
AOC_THRESHOLDS = np.array([0.05 * i for i in range(21)])
"""t = 0.05 i as vssl_eval computes them (``0.05*i`` in float64, so 0.15000000000000002, not 0.15)."""
ROBUST_BATCH_CLIPS = 2
"""Clips per batch in AVSBench-Robust's test configs (``dataset.test.batch_size``)."""
SSL_NEGATIVES = {"silence": ("silence",), "noise": ("white", "pink"), "offscreen": ("offscreen",)}
"""vssl_eval's three negatives and the conditions that stand for each here."""


def _negative_frames(records: pd.DataFrame, label: str | tuple[str, ...]) -> pd.DataFrame:
    rows = ok_rows(records, "negative")
    labels = (label,) if isinstance(label, str) else label
    return rows[rows.condition_label.isin(labels) & rows.annotated.astype(bool)]


def _against_original(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows' counts against the original masks (the expected ones where no ``original_*`` was recorded:
    the probe left the expected mask as it was)."""
    out = rows.copy()
    if "original_intersection" not in out:
        return out
    has = out.original_intersection.notna().to_numpy()
    out.loc[has, "intersection"] = out.loc[has, "original_intersection"]
    out.loc[has, "union"] = out.loc[has, "original_union"]
    out.loc[has, "expected_area"] = out.loc[has, "original_area"]
    out["tp_at"] = [o if h else t for o, t, h in zip(out.original_tp_at, out.tp_at, has, strict=True)]
    return out


def _script_values(scored: pd.DataFrame, batch_clips: int) -> dict[str, MetricValue]:
    """mIoU, F and FPR of AVSBench-Robust's test loop over the rows (clips in dataset order)."""
    ordered = scored.sort_values(["job_index", "frame"], kind="stable")
    frames = ordered.groupby("sample_id", sort=False).size()
    n = len(frames)
    if frames.nunique() != 1:  # the script's batches hold whole clips of one length
        return {k: MetricValue(k, math.nan, math.nan, math.nan, n) for k in ("miou", "fscore", "fpr")}
    stats = frame_stats_of(ordered)
    per_clip = int(frames.iloc[0])
    values = {"miou": legacy_miou(stats, batch_size=batch_clips, frames_per_clip=per_clip),
              "fscore": legacy_fscore(stats, batch_size=batch_clips, frames_per_clip=per_clip),
              "fpr": legacy_fpr(stats, batch_size=batch_clips, frames_per_clip=per_clip)}
    return {k: MetricValue(k, v, math.nan, math.nan, n) for k, v in values.items()}


def robust_protocol(records: pd.DataFrame, *, batch_clips: int = ROBUST_BATCH_CLIPS) -> dict[str, dict[str, MetricValue]]:
    """Per negative condition: ``miou``, ``fscore`` and ``fpr`` as AVSBench-Robust's test script computes them,
    and ``miou_canonical``, ``fscore_canonical``, ``fpr_canonical`` beside them."""
    out = {}
    for label in NEGATIVE_LABELS:
        rows = _negative_frames(records, label)
        if rows.empty:
            continue
        scored = _against_original(rows)
        union = scored.union.to_numpy(np.float64)
        inter = scored.intersection.to_numpy(np.float64)
        pred = scored.pred_area.to_numpy(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, inter / union, (pred == 0).astype(np.float64))  # empty mask: 1 if nothing predicted
        per_clip = scored.assign(iou=iou).groupby("sample_id").iou.mean()
        fpr = _pooled_frame_mean(scored.sample_id.to_numpy(), pred / scored.num_pixels.to_numpy(np.float64))
        out[label] = {**_script_values(scored, batch_clips),
                      "miou_canonical": _metric(f"robust_miou_canonical@{label}", per_clip.to_numpy()),
                      "fscore_canonical": fscore_with_interval(scored), "fpr_canonical": fpr}
    return out


def _pooled_frame_mean(clips: np.ndarray, values: np.ndarray, name: str = "fpr", scale: float = 1.0) -> MetricValue:
    """The mean over frames (pooled) times ``scale``, with a clip-bootstrap interval."""
    names, index = np.unique(clips, return_inverse=True)
    sums = np.bincount(index, weights=values, minlength=len(names))
    counts = np.bincount(index, minlength=len(names)).astype(np.float64)
    weights = resample_weights(len(names))
    point = scale * float(sums.sum() / counts.sum())
    low, high = percentile_interval(scale * (weights @ sums) / (weights @ counts), point)
    return MetricValue(name, point, low, high, len(names))


def aoc(pia_fractions: np.ndarray) -> float:
    """vssl_eval's ``compute_AUC_pIA`` x 100: the trapezoid area under y(t) = fraction of samples with
    pIA <= t over t = 0, 0.05, ..., 1 (100 when no sample predicts anything, 2.5 when all predict everything)."""
    values = np.asarray(pia_fractions, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan
    return 100.0 * float(np.trapezoid((values[None, :] <= AOC_THRESHOLDS[:, None]).mean(axis=1), AOC_THRESHOLDS))


def _aoc_value(clips: np.ndarray, fractions: np.ndarray, name: str) -> MetricValue:
    """:func:`aoc` over frames, with a clip-bootstrap interval (a resample weights each clip's frames)."""
    names, index = np.unique(clips, return_inverse=True)
    below = (fractions[None, :] <= AOC_THRESHOLDS[:, None]).astype(np.float64)  # [21, frames]
    below_by_clip = np.stack([np.bincount(index, weights=row, minlength=len(names)) for row in below])  # [21, clips]
    frames = np.bincount(index, minlength=len(names)).astype(np.float64)
    weights = resample_weights(len(names))
    curves = (weights @ below_by_clip.T) / (weights @ frames)[:, None]  # [resamples, 21]
    draws = 100.0 * np.trapezoid(curves, AOC_THRESHOLDS, axis=1)
    point = aoc(fractions)
    low, high = percentile_interval(draws, point)
    return MetricValue(name, point, low, high, len(names))


def _harmonic(p: float, q: float) -> float:
    """vssl_eval's ``compute_f``: 2 p q / (p + q) (0 where both are 0)."""
    return 0.0 if p + q == 0 else 2 * p * q / (p + q)


def ssl_protocol(records: pd.DataFrame, positive_miou: float | None) -> dict[str, dict[str, MetricValue]]:
    """Per negative condition: ``pia`` (%), ``aoc`` and ``hm`` (with ``P = 100 x positive_miou``); and, where
    silence, noise and off-screen audio all ran, a row ``silence+noise+offscreen`` with ``f_pos_neg``."""
    out: dict[str, dict[str, MetricValue]] = {}
    p = 100.0 * positive_miou if positive_miou is not None and math.isfinite(positive_miou) else None
    for label in NEGATIVE_LABELS:
        rows = _negative_frames(records, label)
        if rows.empty:
            continue
        clips = rows.sample_id.to_numpy()
        fractions = (rows.pred_area / rows.num_pixels).to_numpy(np.float64)
        pia = _pooled_frame_mean(clips, fractions, f"pia@{label}", 100.0)
        values = {"pia": pia, "aoc": _aoc_value(clips, fractions, f"aoc@{label}")}
        if p is not None:
            values["hm"] = MetricValue(f"hm@{label}", _harmonic(p, 100.0 - pia.value),
                                       *(_harmonic(p, 100.0 - x) for x in (pia.ci_high, pia.ci_low)), pia.n_clips)
        out[label] = values
    negatives = {k: _negative_frames(records, v) for k, v in SSL_NEGATIVES.items()}
    if p is not None and all(not r.empty for r in negatives.values()):
        rest = [100.0 - 100.0 * float((r.pred_area / r.num_pixels).mean()) for r in negatives.values()]
        clips = int(sum(r.sample_id.nunique() for r in negatives.values()) / len(negatives))
        out["+".join(SSL_NEGATIVES)] = {"f_pos_neg": MetricValue("f_pos_neg", _harmonic(p, float(np.mean(rest))),
                                                                 math.nan, math.nan, clips)}
    return out
