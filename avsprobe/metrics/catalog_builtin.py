"""The built-in bias metrics, registered in report order (see :mod:`avsprobe.metrics.catalog`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from avsprobe.metrics import bias, class_aware, protocols
from avsprobe.metrics.bias import MetricValue
from avsprobe.metrics.catalog import BiasMetric, Contribution, from_info, register
from avsprobe.metrics.stats import fscore_with_interval

if TYPE_CHECKING:
    import pandas as pd

Headline = dict[str, MetricValue]


def _overall(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    rows = bias.ok_rows(records, baseline=True)
    if rows.empty:
        return Contribution()
    first = rows.drop_duplicates(["sample_id", "frame"])  # a clip's baseline is the same under every probe
    return Contribution({"miou": bias._metric("miou", bias.miou_per_clip(records).to_numpy()),
                         "fscore": fscore_with_interval(first)})


def _intensity(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"intensity_gap": bias.intensity_gap(records)},
                        {"miou_by_level": bias.miou_by_level(records),
                         "miou_by_level_and_class": bias.miou_by_level_and_class(records)},
                        missed_levels=bias.missed_levels(records))


def _semantic(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"semantic_spread": bias.semantic_spread(records)},
                        {"semantic_by_class": bias.semantic_by_class(records)})


def _dominance(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"dominance": bias.dominance(records)})


def _additivity(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"additivity": bias.additivity(records)})


def _fpr(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution(bias.false_positive_rates(records))


def _prior_coverage(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    out = Contribution(groups={"prior_score": bias.prior_scores(records)})
    by_condition = bias.prior_coverage(records)
    if by_condition:
        out.groups["prior_coverage"] = by_condition
        # the headline is in distribution: the data's own bed; digital silence is out of distribution
        if "background" in by_condition:
            out.headline["prior_coverage"] = by_condition["background"]
        if "silence" in by_condition:
            out.headline["silence_coverage"] = by_condition["silence"]
    return out


def _silent(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    value = bias.silent_object_coverage(records)
    return Contribution({} if value is None else {"silent_object_coverage": value})


def _follow(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"follow_rate": bias.follow_rate(records)})


def _area(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"area_gap": bias.area_gap(records)}, {"miou_by_area": bias.miou_by_area(records)})


def _robust(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution(protocols={"avsbench_robust": protocols.robust_protocol(records)})


def _ssl(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    positive = headline.get("miou")
    return Contribution(protocols={"negative_audio_ssl": protocols.ssl_protocol(records, positive.value if positive else None)})


def _avss(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution(class_aware.semantic_scores(records))


def _classes(info: dict[str, Any]) -> list[str]:
    return list(info.get("model_classes") or [])


def _class_follow(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"class_follow_rate": class_aware.class_follow_rate(records, _classes(info))})


def _offscreen_paint(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution({"offscreen_class_paint": class_aware.offscreen_class_paint(records, _classes(info))})


def _class_accuracy(records: pd.DataFrame, info: dict[str, Any], headline: Headline) -> Contribution:
    return Contribution(groups={"semantic_class_accuracy": class_aware.semantic_class_accuracy(records, _classes(info))})


def _prior_coverage_per_clip(label: str):  # noqa: ANN202 - a per-clip function
    return lambda records: bias.prior_coverage_per_clip(records, label)


def _fpr_per_clip(name: str):  # noqa: ANN202 - a per-clip function
    return lambda records: bias.fpr_per_clip(records, name)


_ENTRIES = [
    BiasMetric("miou", "miou.canonical on baseline conditions (per frame, empty-GT policy strict, averaged per clip "
               "then over clips)", True, "IoU", family=("overall", 1), per_clip=bias.miou_per_clip, compute=_overall),
    BiasMetric("fscore", "fscore.canonical on baseline conditions (max of the dataset-mean 255-threshold curve, "
               "beta^2 = 0.3)", True, "F-measure", family=("overall", 2), compute=_overall),
    BiasMetric("intensity_gap", "mIoU at the loudest minus at the quietest intensity level, per clip, averaged",
               False, "IoU difference", ("intensity",), family=("audio", 1), per_clip=bias.intensity_gap_per_clip,
               compute=_intensity),
    BiasMetric("semantic_spread", "max - min over classes of the semantic-probe mIoU (equal loudness and area)",
               False, "IoU difference", ("semantic",), family=("audio", 5), compute=_semantic),
    BiasMetric("dominance", "mean |cov_A - cov_B| / (cov_A + cov_B) over mixes at equal levels", False,
               "fraction", ("mix",), family=("audio", 2), per_clip=bias.dominance_per_clip, compute=_dominance),
    BiasMetric("additivity", "mean IoU(P_AB, P_A | P_B) over mixes and frames, on 64x64 prediction thumbnails", True,
               "IoU", ("mix",), family=("audio", 3), per_clip=bias.additivity_per_clip, compute=_additivity),
    BiasMetric("fpr_silence", "out of distribution: mean fraction of the frame predicted under digital silence", False,
               "fraction of the frame", ("negative",), family=("ood", 2), per_clip=_fpr_per_clip("fpr_silence"),
               compute=_fpr),
    BiasMetric("fpr_noise", "out of distribution: mean fraction of the frame predicted under white and pink noise "
               "at -23 LUFS", False,
               "fraction of the frame", ("negative",), family=("ood", 3), per_clip=_fpr_per_clip("fpr_noise"),
               compute=_fpr),
    BiasMetric("fpr_offscreen", "mean fraction of the frame predicted under an off-screen class", False,
               "fraction of the frame", ("negative",), family=("prior", 6), per_clip=_fpr_per_clip("fpr_offscreen"),
               compute=_fpr),
    BiasMetric("fpr_background", "mean fraction of the frame predicted under the data's background bed alone (the "
               "bias lab's -60 LUFS pink noise: the in-distribution 'nothing sounds')", False,
               "fraction of the frame", ("negative",), family=("prior", 4), per_clip=_fpr_per_clip("fpr_background"),
               compute=_fpr),
    BiasMetric("prior_coverage", "under the data's background bed alone (in distribution: the bias lab's -60 LUFS "
               "pink noise), the mean over a clip's visible objects of the fraction of each object predicted, averaged "
               "over clips (object-normalised; per condition and class in the groups)", False,
               "fraction of an object", ("negative",), family=("prior", 1),
               per_clip=_prior_coverage_per_clip("background"), compute=_prior_coverage),
    BiasMetric("silence_coverage", "out of distribution: as prior_coverage, under digital silence (an input no "
               "training clip resembles; what a model answers there is a property of its initialisation and, for "
               "active-query models, of Phi, not a visual prior)", False, "fraction of an object", ("negative",),
               family=("ood", 1), per_clip=_prior_coverage_per_clip("silence"), compute=_prior_coverage),
    BiasMetric("silent_object_coverage", "under the original audio, the mean fraction predicted of the visible "
               "objects that do not sound, per clip, averaged", False, "fraction of an object", ("negative",),
               family=("prior", 2), per_clip=bias.silent_object_coverage_per_clip, compute=_silent),
    BiasMetric("prior_corr", "Spearman correlation over classes of prior_score with the training sounding frequency",
               None, "Spearman rho", ("negative",), needs_info=("train_sounding_frequency",), family=("prior", 7),
               compute=from_info("prior_corr", "train_sounding_frequency", bias.prior_corr)),
    BiasMetric("follow_rate", "fraction of swapped frames whose new source is covered more than the old one", True,
               "fraction of frames", ("swap",), family=("audio", 4), per_clip=bias.follow_rate_per_clip,
               compute=_follow),
    BiasMetric("area_gap", "mIoU at the largest area fraction minus at the smallest", False, "IoU difference",
               ("area",), family=("audio", 6), per_clip=bias.area_gap_per_clip, compute=_area),
    BiasMetric("coavs_drop", "mIoU on the source scenes with their original audio minus mIoU on Co-AVS, paired by "
               "scene", False, "IoU difference", family=("overall", 3)),
    BiasMetric("avsbench_robust", "AVSBench-Robust protocol (Li et al. 2025), per negative condition, as its test "
               "script computes it (jiali-home/AVSBench-Robust@03e925d, training_evaluation/code/AVSegFormer/scripts/"
               "s4/test.py and utility.py): clips in dataset order, 2 a batch; per batch mask_iou against the "
               "clip's original positive masks (an empty mask scores its true-negative ratio), Eval_Fmeasure "
               "(255 thresholds, beta^2 = 0.3, 0 for a batch without an object) and FPR (pixels with "
               "sigmoid > 0.5 over H*W); each the mean over batches. miou_canonical, fscore_canonical and "
               "fpr_canonical: strict empty policy per frame, per clip then over clips, dataset F, pooled "
               "FPR. Their G-mIoU, G-F and G-FPR have no public definition and are left out", False,
               "protocol section", ("negative",), compute=_robust,
               source="jiali-home/AVSBench-Robust@03e925d:training_evaluation/code/AVSegFormer/scripts/s4/test.py"),
    BiasMetric("negative_audio_ssl", "negative-audio SSL metrics (Juanola, Haro, Fuentes, ICASSP 2025), as "
               "xavijuanola/vssl_eval@e8ebbc9 utils_dir/eval_utils.py computes them, one sample per annotated frame: "
               "pia = 100 x the mean fraction of the frame predicted (lower is better); aoc = 100 x the trapezoid area "
               "under y(t) = share of samples with pIA <= t, t = 0.05 i, i = 0..20 (compute_AUC_pIA; "
               "higher is better); hm = 2 P (100 - pia) / (P + 100 - pia) with P = 100 x miou (original "
               "audio); f_pos_neg = the same harmonic mean with the mean of 100 - pia over silence, noise "
               "(white and pink) and off-screen", None, "protocol section", ("negative",), compute=_ssl,
               source="xavijuanola/vssl_eval@e8ebbc9:utils_dir/eval_utils.py"),
    BiasMetric("miou_avss", "semantic models: miou.avss on baseline conditions (per-class IoU over the frames where "
               "the class occurs, summed, divided by all K classes, background included; the AVSBench reference)",
               True, "IoU", semantic_only=True, family=("overall", 4), compute=_avss,
               source="OpenNLPLab/AVSBench@f7414af:avss/utils/compute_color_metrics.py"),
    BiasMetric("fscore_avss", "semantic models: fscore.avss on baseline conditions (argmax operating point, "
               "beta^2 = 0.3, divided by all K classes)", True, "F-measure", semantic_only=True, family=("overall", 5),
               compute=_avss, source="OpenNLPLab/AVSBench@f7414af:avss/utils/compute_color_metrics.py"),
    BiasMetric("miou_avss_present", "semantic models: as miou_avss, averaged over the classes present only", True,
               "IoU", semantic_only=True, family=("overall", 6), compute=_avss),
    BiasMetric("class_follow_rate", "semantic models, swap: swapped frames whose new object is predicted as the new "
               "sound's class", True, "fraction of frames", ("swap",), semantic_only=True, family=("audio", 7),
               compute=_class_follow),
    BiasMetric("offscreen_class_paint", "semantic models, off-screen audio: share of visible objects painted with the "
               "off-screen sound's class", False, "fraction of objects", ("negative",), semantic_only=True,
               family=("prior", 8), compute=_offscreen_paint),
    BiasMetric("semantic_class_accuracy", "semantic models, semantic probe: per class, frames whose target object is "
               "predicted as that class (equal loudness and area)", True, "fraction of frames", ("semantic",),
               semantic_only=True, compute=_class_accuracy),
]

for _position, _metric in enumerate(_ENTRIES):
    register(BiasMetric(**{**_metric.__dict__, "order": float(10 * (_position + 1))}))
