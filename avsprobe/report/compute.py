"""Loading runs and computing every metric their records support."""

from __future__ import annotations

import contextlib
import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.errors import DataError
from avsprobe.metrics import bias
from avsprobe.metrics.bias import MetricValue
from avsprobe.metrics.catalog import catalog, per_clip_metrics
from avsprobe.metrics.catalog import get as catalog_entry
from avsprobe.metrics.stats import fscore_with_interval, seed_interval
from avsprobe.metrics.threshold_free import matched_recall, operating_curve
from avsprobe.results import find_run_folders, load_records, read_run_info

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "load_run", "find_run_folders", "fscore_with_interval", "overall_scores", "compute_metrics",
           "METRIC_DEFINITIONS", "seed_groups", "seed_summary",
           "seed_paired_differences", "matched_recall_groups"]

METRIC_DEFINITIONS = {m.name: m.definition for m in catalog()}
"""Every bias metric's definition, in report order (from the catalog)."""


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


def overall_scores(records: pd.DataFrame) -> dict[str, MetricValue]:
    """Canonical mIoU and F on the baseline (unprobed) conditions, each with its clip-bootstrap interval."""
    return catalog_entry("miou").compute(records, {}, {}).headline  # type: ignore[misc]


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
    """Every catalog metric the run's probes and output support, in catalog order (a computation shared by
    several metrics runs once)."""
    r = run.records
    probes = set(r.probe.unique())
    out = RunMetrics(clips_total=int(r.sample_id.nunique()),
                     clips_evaluated=int(r[r.status == "ok"].sample_id.nunique()),
                     failed=sorted(set(r[r.status == "failed"].sample_id)))
    if out.clips_evaluated == 0:  # every clip failed or did not apply: the report shows the failures alone
        return out
    output = str(run.info.get("output", "binary"))
    columns = set(r.columns)
    done: set[object] = set()
    for metric in catalog():
        if metric.compute is None or metric.compute in done or not metric.applies(probes, output, run.info, columns):
            continue
        done.add(metric.compute)
        part = metric.compute(r, run.info, out.headline)
        out.headline.update(part.headline)
        out.groups.update(part.groups)
        out.protocols.update(part.protocols)
        out.missed_levels.update(part.missed_levels)
    return out


def metric_json(value: MetricValue) -> dict[str, Any]:
    def clean(x: float) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)

    return {"value": clean(value.value), "ci_low": clean(value.ci_low), "ci_high": clean(value.ci_high),
            "n_clips": value.n_clips, **({"by_group": {k: clean(v) for k, v in value.by_group.items()}} if value.by_group else {})}


def dumps(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True)


def _data_folders(info: dict[str, Any]) -> set[Path]:
    """The folders a run read, resolved: the ``--data`` folder and the data set's own folder under it (a run as
    ``--data ROOT --subset avss`` read ``ROOT/AVSS``, where a Co-AVS set built with ``--avsbench ROOT`` names its
    scenes' folder). Runs from before ``data_layout_root`` was recorded find it again where the data still is."""
    folders = {Path(str(info[key])).resolve() for key in ("data_root", "data_layout_root") if info.get(key)}
    root = info.get("data_root")
    if root and not info.get("data_layout_root") and Path(str(root)).is_dir():
        from avsprobe.data.avsbench.layout import choose_subset

        with contextlib.suppress(Exception):  # a folder that no longer reads as data: only its path compares
            folders.add(Path(choose_subset(str(root), info.get("subset") or None).layout.root).resolve())
    return folders


def coavs_drop(coavs_run: RunResult, runs: list[RunResult]) -> MetricValue | None:
    """Co-AVS mIoU drop against the original audio: mIoU of the same model on the source scenes with their
    original audio (a run over the Co-AVS source) minus its mIoU on Co-AVS, paired by scene."""
    root = Path(coavs_run.info.get("data_root", ""))
    meta_file = root / "coavs.json"
    if not meta_file.is_file():
        return None
    source_root = json.loads(meta_file.read_text()).get("source_root")
    # folders compared resolved: run.json stores them absolute, older runs and Co-AVS sets as they were given
    original = next((r for r in runs if r is not coavs_run and r.info.get("model_fingerprint") == coavs_run.info.get("model_fingerprint")
                     and source_root and Path(source_root).resolve() in _data_folders(r.info)), None)
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


def _seed_value(values: list[float]) -> dict[str, Any]:
    mean, low, high = seed_interval(values)
    finite = [v for v in values if math.isfinite(v)]
    return {"mean": mean, "min": min(finite) if finite else math.nan, "max": max(finite) if finite else math.nan,
            "sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan,
            "seed_ci_low": low, "seed_ci_high": high}


def seed_summary(members: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per metric: each seed's value, their mean, sample SD, range and seed-level 95 % t-interval of the mean
    (``seed_ci_*``); for clip-mean metrics also the clip-bootstrap 95 % interval of the seed-averaged per-clip
    values (``ci_*``, over the clips every seed saw; it leaves the seeds' own variation out). Metrics that are
    not clip means (a correlation, a slope) come from each run's computed headline (``RunResult.metrics``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, per_clip_of in per_clip_metrics().items():
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
                     **_seed_value(values), "ci_low": float(low), "ci_high": float(high),
                     "n_clips": int(len(shared))}
    if all(run.metrics is not None for run in members):
        for metric in catalog():
            if metric.per_clip is not None or metric.name in out:
                continue
            found = [run.metrics.headline.get(metric.name) for run in members]
            if any(v is None for v in found):
                continue
            values = [v.value for v in found]
            out[metric.name] = {"seeds": {int(r.info["model_seed"]): v for r, v in zip(members, values, strict=True)},
                                **_seed_value(values)}
    return out


def seed_paired_differences(groups: list[tuple[str, dict[str, dict[str, Any]]]]
                            ) -> dict[str, dict[str, dict[str, Any]]]:
    """Each later seed group minus the first, seed by seed (the seeds both have), per metric: the mean of the
    per-seed differences with its seed-level 95 % t-interval; models trained from the same seed are paired
    (the same data order and initialisation stream)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    if len(groups) < 2:
        return out
    first_label, first = groups[0]
    for label, summary in groups[1:]:
        diffs = {}
        for name, value in summary.items():
            if name not in first:
                continue
            base = first[name]["seeds"]
            seeds = sorted(set(value["seeds"]) & set(base))
            if len(seeds) < 2:
                continue
            per_seed = [value["seeds"][s] - base[s] for s in seeds]
            mean, low, high = seed_interval(per_seed)
            diffs[name] = {"seeds": dict(zip(seeds, per_seed, strict=True)), "mean": mean, "seed_ci_low": low,
                           "seed_ci_high": high}
        out[f"{label} - {first_label}"] = diffs
    return out


def matched_recall_groups(runs: list[RunResult]) -> list[dict[str, Any]]:
    """Per data set (fingerprint) with at least two runs whose records carry per-object curves: the
    matched-recall comparison (:func:`avsprobe.metrics.threshold_free.matched_recall`), models by label."""
    by_data: dict[str, list[tuple[RunResult, Any]]] = {}
    for run in runs:
        curve = operating_curve(run.records) if run.has_results else None
        if curve is not None:
            by_data.setdefault(run.info["data_fingerprint"], []).append((run, curve))
    out = []
    for members in by_data.values():
        if len(members) < 2:
            continue
        target, points = matched_recall({run.label or run.model: curve for run, curve in members})
        if len(points) < 2:  # nothing to compare (no silent objects, or one model left)
            continue
        out.append({"data": members[0][0].info["data"], "target_recall": target,
                    "models": [p.__dict__ for p in points]})
    return out
