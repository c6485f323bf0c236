"""Loading runs and computing every metric their records support."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.errors import DataError
from avsprobe.metrics import bias
from avsprobe.metrics.bias import MetricValue
from avsprobe.metrics.stats import fscore_with_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "load_run", "find_run_folders", "fscore_with_interval", "overall_scores", "compute_metrics",
           "METRIC_DEFINITIONS", "seed_groups", "seed_summary"]

METRIC_DEFINITIONS = {
    "miou": "miou.canonical on baseline conditions (per frame, empty-GT policy strict, averaged per clip then over clips)",
    "fscore": "fscore.canonical on baseline conditions (max of the dataset-mean 255-threshold curve, beta^2 = 0.3)",
    "intensity_gap": "mIoU at the loudest minus at the quietest intensity level, per clip, averaged",
    "semantic_spread": "max - min over classes of the semantic-probe mIoU (equal loudness and area)",
    "dominance": "mean |cov_A - cov_B| / (cov_A + cov_B) over mixes at equal levels",
    "additivity": "mean IoU(P_AB, P_A | P_B) over mixes and frames, on 64x64 prediction thumbnails",
    "fpr_silence": "mean fraction of the frame predicted under digital silence",
    "fpr_noise": "mean fraction of the frame predicted under white and pink noise",
    "fpr_offscreen": "mean fraction of the frame predicted under an off-screen class",
    "fpr_background": "mean fraction of the frame predicted under the data's background bed alone (the bias lab's "
                      "-60 LUFS pink noise: the in-distribution 'nothing sounds')",
    "prior_coverage": "under digital silence, the mean over a clip's visible objects of the fraction of each object "
                      "predicted, averaged over clips (object-normalised; per condition and class in the groups)",
    "silent_object_coverage": "under the original audio, the mean fraction predicted of the visible objects that do "
                              "not sound, per clip, averaged",
    "prior_corr": "Spearman correlation over classes of prior_score with the training sounding frequency",
    "follow_rate": "fraction of swapped frames whose new source is covered more than the old one",
    "area_gap": "mIoU at the largest area fraction minus at the smallest",
    "coavs_drop": "mIoU on the source scenes with their original audio minus mIoU on Co-AVS, paired by scene",
    "avsbench_robust": "AVSBench-Robust protocol (Li et al. 2025), per negative condition, as its test script "
                       "computes it (jiali-home/AVSBench-Robust@03e925d, training_evaluation/code/AVSegFormer/scripts/"
                       "s4/test.py and utility.py): clips in dataset order, 2 a batch; per batch mask_iou against the "
                       "clip's original positive masks (an empty mask scores its true-negative ratio), Eval_Fmeasure "
                       "(255 thresholds, beta^2 = 0.3, 0 for a batch without an object) and FPR (pixels with "
                       "sigmoid > 0.5 over H*W); each the mean over batches. miou_canonical, fscore_canonical and "
                       "fpr_canonical: strict empty policy per frame, per clip then over clips, dataset F, pooled "
                       "FPR. Their G-mIoU, G-F and G-FPR have no public definition and are left out",
    "negative_audio_ssl": "negative-audio SSL metrics (Juanola, Haro, Fuentes, ICASSP 2025), as xavijuanola/vssl_eval"
                          "@e8ebbc9 utils_dir/eval_utils.py computes them, one sample per annotated frame: pia = 100 x "
                          "the mean fraction of the frame predicted (lower is better); aoc = 100 x the trapezoid area "
                          "under y(t) = share of samples with pIA <= t, t = 0.05 i, i = 0..20 (compute_AUC_pIA; "
                          "higher is better); hm = 2 P (100 - pia) / (P + 100 - pia) with P = 100 x miou (original "
                          "audio); f_pos_neg = the same harmonic mean with the mean of 100 - pia over silence, noise "
                          "(white and pink) and off-screen",
    "miou_avss": "semantic models: miou.avss on baseline conditions (per-class IoU over the frames where the class "
                 "occurs, summed, divided by all K classes, background included; the AVSBench reference)",
    "fscore_avss": "semantic models: fscore.avss on baseline conditions (argmax operating point, beta^2 = 0.3, "
                   "divided by all K classes)",
    "miou_avss_present": "semantic models: as miou_avss, averaged over the classes present only",
    "class_follow_rate": "semantic models, swap: swapped frames whose new object is predicted as the new sound's class",
    "offscreen_class_paint": "semantic models, off-screen audio: share of visible objects painted with the "
                             "off-screen sound's class",
    "semantic_class_accuracy": "semantic models, semantic probe: per class, frames whose target object is "
                               "predicted as that class (equal loudness and area)",
}


@dataclass
class RunResult:
    """A run folder: ``run.json`` and the records table."""

    path: Path
    info: dict[str, Any]
    records: pd.DataFrame
    label: str = ""
    metrics: RunMetrics | None = None  # set once computed, so figures reuse the bootstrapped values

    @property
    def model(self) -> str:
        return self.label or str(self.info.get("model", self.path.name))

    @property
    def jobs_recorded(self) -> int:
        """(clip, condition) jobs recorded, any status."""
        return int(self.records.drop_duplicates(["sample_id", "condition_id"]).shape[0])

    @property
    def incomplete(self) -> tuple[int, int] | None:
        """``(recorded, planned)`` when fewer jobs are recorded than the run planned (a shard not run yet, or
        a run stopped before its end), else None."""
        planned = self.info.get("jobs_planned")
        if isinstance(planned, int) and self.jobs_recorded < planned:
            return self.jobs_recorded, planned
        return None

    @property
    def has_results(self) -> bool:
        """Whether any job of the run succeeded (a run whose every clip failed has no metrics)."""
        return bool((self.records.status == "ok").any())


def load_run(path: str | Path) -> RunResult:
    """A run folder's ``run.json`` and records, restricted to the samples its last invocation planned (a
    run reused with a smaller ``--limit`` reports on that subset)."""
    from avsprobe.results import load_records, read_run_info

    p = Path(path)
    if not (p / "run.json").is_file():
        raise DataError(f"{p} is not a run folder (no run.json); runs are written by 'avsprobe run'")
    info = read_run_info(p)
    records = load_records(p)
    if records.empty:
        raise DataError(f"{p} holds no records yet")
    planned = info.get("sample_ids")
    if isinstance(planned, list):
        records = records[records.sample_id.isin(set(planned))].reset_index(drop=True)
    return RunResult(p, info, records)


def find_run_folders(path: str | Path) -> list[Path]:
    """``path`` itself if it is a run folder, else every run folder below it (sorted)."""
    p = Path(path)
    if (p / "run.json").is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"{p} is not a run folder or a folder of runs")
    found = sorted(f.parent for f in p.rglob("run.json") if not any(part.startswith(".") for part in f.parts))
    if not found:
        raise DataError(f"{p} is not a run folder and holds none (no run.json below it); runs are written by 'avsprobe run'")
    return found


def overall_scores(records: pd.DataFrame) -> dict[str, MetricValue]:
    """Canonical mIoU and F on the baseline (unprobed) conditions, each with its clip-bootstrap interval."""
    rows = bias.ok_rows(records, baseline=True)
    if rows.empty:
        return {}
    out = {"miou": bias._metric("miou", bias.miou_per_clip(records).to_numpy())}
    first = rows.drop_duplicates(["sample_id", "frame"])  # a clip's baseline is the same under every probe
    out["fscore"] = fscore_with_interval(first)
    return out


@dataclass
class RunMetrics:
    """Headline metrics (name -> value) and grouped ones (levels, classes) of one run."""

    headline: dict[str, MetricValue] = field(default_factory=dict)
    groups: dict[str, dict[str, MetricValue]] = field(default_factory=dict)
    clips_total: int = 0
    clips_evaluated: int = 0
    failed: list[str] = field(default_factory=list)
    missed_levels: dict[str, int] = field(default_factory=dict)
    protocols: dict[str, dict[str, dict[str, MetricValue]]] = field(default_factory=dict)


def compute_metrics(run: RunResult) -> RunMetrics:
    """Every metric the run's probes support."""
    r = run.records
    probes = set(r.probe.unique())
    out = RunMetrics(clips_total=int(r.sample_id.nunique()),
                     clips_evaluated=int(r[r.status == "ok"].sample_id.nunique()),
                     failed=sorted(set(r[r.status == "failed"].sample_id)))
    if out.clips_evaluated == 0:  # every clip failed or did not apply: the report shows the failures alone
        return out
    out.headline.update(overall_scores(r))
    if "intensity" in probes:
        out.headline["intensity_gap"] = bias.intensity_gap(r)
        out.groups["miou_by_level"] = bias.miou_by_level(r)
        out.groups["miou_by_level_and_class"] = bias.miou_by_level_and_class(r)
        out.missed_levels = bias.missed_levels(r)
    if "semantic" in probes:
        out.headline["semantic_spread"] = bias.semantic_spread(r)
        out.groups["semantic_by_class"] = bias.semantic_by_class(r)
    if "mix" in probes:
        out.headline["dominance"] = bias.dominance(r)
        out.headline["additivity"] = bias.additivity(r)
    if "negative" in probes:
        out.headline.update(bias.false_positive_rates(r))
        out.groups["prior_score"] = bias.prior_scores(r)
        by_condition = bias.prior_coverage(r)
        if by_condition:
            out.groups["prior_coverage"] = by_condition
            if "silence" in by_condition:
                out.headline["prior_coverage"] = by_condition["silence"]
        silent = bias.silent_object_coverage(r)
        if silent is not None:
            out.headline["silent_object_coverage"] = silent
        from avsprobe.metrics import protocols

        out.protocols["avsbench_robust"] = protocols.robust_protocol(r)
        positive = out.headline.get("miou")
        out.protocols["negative_audio_ssl"] = protocols.ssl_protocol(r, positive.value if positive else None)
        frequency = run.info.get("train_sounding_frequency")
        if frequency:
            out.headline["prior_corr"] = bias.prior_corr(r, frequency)
    if "swap" in probes:
        out.headline["follow_rate"] = bias.follow_rate(r)
    if "area" in probes:
        out.headline["area_gap"] = bias.area_gap(r)
        out.groups["miou_by_area"] = bias.miou_by_area(r)
    if run.info.get("output") == "semantic":
        _semantic_metrics(run, out, probes)
    return out


def _semantic_metrics(run: RunResult, out: RunMetrics, probes: set[str]) -> None:
    """The AVSS semantic scores and the class-aware bias metrics of a semantic model's run."""
    from avsprobe.metrics import class_aware

    r, classes = run.records, list(run.info.get("model_classes") or [])
    out.headline.update(class_aware.semantic_scores(r))
    if "swap" in probes:
        out.headline["class_follow_rate"] = class_aware.class_follow_rate(r, classes)
    if "negative" in probes:
        out.headline["offscreen_class_paint"] = class_aware.offscreen_class_paint(r, classes)
    if "semantic" in probes:
        out.groups["semantic_class_accuracy"] = class_aware.semantic_class_accuracy(r, classes)


def metric_json(value: MetricValue) -> dict[str, Any]:
    def clean(x: float) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)

    return {"value": clean(value.value), "ci_low": clean(value.ci_low), "ci_high": clean(value.ci_high),
            "n_clips": value.n_clips, **({"by_group": {k: clean(v) for k, v in value.by_group.items()}} if value.by_group else {})}


def dumps(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True)


def coavs_drop(coavs_run: RunResult, runs: list[RunResult]) -> MetricValue | None:
    """Co-AVS mIoU drop against the original audio: mIoU of the same model on the source scenes with their
    original audio (a run over the Co-AVS source) minus its mIoU on Co-AVS, paired by scene."""
    import csv

    root = Path(coavs_run.info.get("data_root", ""))
    meta_file = root / "coavs.json"
    if not meta_file.is_file():
        return None
    source_root = json.loads(meta_file.read_text()).get("source_root")
    original = next((r for r in runs if r is not coavs_run and r.info.get("model_fingerprint") == coavs_run.info.get("model_fingerprint")
                     and source_root and Path(r.info.get("data_root", "")) == Path(source_root)), None)
    if original is None:
        return None
    with open(root / "manifest.csv", newline="") as f:
        scene_of = {row["video"]: row["scene"] for row in csv.DictReader(f)}
    co = bias.miou_per_clip(coavs_run.records)
    co_by_scene = co.groupby(co.index.map(scene_of)).mean()
    orig = bias.miou_per_clip(original.records)
    shared = co_by_scene.index.intersection(orig.index)
    if shared.empty:
        return None
    return bias._metric("coavs_drop", (orig[shared] - co_by_scene[shared]).to_numpy())


SEED_BLIND_OPTIONS = ("checkpoint", "main")
"""Model options that name weights, not settings: runs differing only in them (and in the seed their weights
were trained with) are seeds of one model."""


def seed_groups(runs: list[RunResult]) -> list[tuple[str, list[RunResult]]]:
    """Runs of one model (same name and settings, suite, data and split) from checkpoints of at least two
    training seeds, as ``(label, runs)`` in report order; each label names the seeds."""
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        if run.info.get("model_seed") is None or not run.has_results:
            continue
        options = {k: v for k, v in (run.info.get("model_options") or {}).items() if k not in SEED_BLIND_OPTIONS}
        key = (run.info["model"], json.dumps(options, sort_keys=True, default=str), run.info["suite_fingerprint"],
               run.info["data_fingerprint"], run.info.get("split"))
        groups.setdefault(key, []).append(run)
    out = []
    for (model, options, *_), members in groups.items():
        seeds = sorted({int(r.info["model_seed"]) for r in members})
        if len(seeds) < 2:
            continue
        settings = ", ".join(f"{k}={v}" for k, v in json.loads(options).items())
        out.append((f"{model}{f' [{settings}]' if settings else ''} (seeds {', '.join(map(str, seeds))})", members))
    return out


def seed_summary(members: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per clip-mean metric: each seed's value, their mean and range, and the clip-bootstrap 95 % interval of
    the seed-averaged per-clip values (over the clips every seed saw)."""
    out: dict[str, dict[str, Any]] = {}
    for name, per_clip_of in bias.PER_CLIP.items():
        per_seed = [per_clip_of(run.records) for run in members]
        if any(p.empty for p in per_seed):
            continue
        shared = per_seed[0].index
        for p in per_seed[1:]:
            shared = shared.intersection(p.index)
        if not len(shared):
            continue
        values = [float(p.mean()) for p in per_seed]
        _, low, high = bias.bootstrap(np.mean([p[shared].to_numpy(np.float64) for p in per_seed], axis=0))
        out[name] = {"seeds": {int(r.info["model_seed"]): v for r, v in zip(members, values, strict=True)},
                     "mean": float(np.mean(values)), "min": min(values), "max": max(values),
                     "ci_low": float(low), "ci_high": float(high), "n_clips": int(len(shared))}
    return out
