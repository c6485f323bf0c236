"""The run engine: every (clip, condition) of a suite through a model adapter, into a records table.

Jobs are enumerated in a fixed order (probe, sample, condition) over every sample of the split and
numbered; ``--limit`` keeps the jobs of the first samples. Batches of ``batch_size`` jobs are probed,
prepared to the adapter's input spec, predicted in one call and scored per frame against the expected
mask; every 64 jobs or so the rows are written as one parquet part. A rerun skips the jobs already
recorded, keyed by (sample, condition), so a killed run resumes where it stopped and ends with the same
records, and a larger ``--limit`` extends a run. A run folder holds one run (:data:`IDENTITY_FIELDS`), and
an exclusive lock keeps a second process out while one runs.

A clip whose files cannot be read, whose logits hold NaN or inf, or whose prediction raises, is recorded as
``failed`` with the reason (a raising batch is retried clip by clip to find the culprit); a condition that
does not apply is recorded as ``not_applicable``. Neither stops the run.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe._version import __version__
from avsprobe.errors import AdapterError, ConfigError, DataError, ProbeNotApplicable
from avsprobe.fileio import atomic_write_text
from avsprobe.results import PARTS_DIR, THUMB, done_jobs, pack_thumbnail, read_run_info, run_lock, write_part

if TYPE_CHECKING:
    import torch

    from avsprobe.adapters.base import ModelAdapter
    from avsprobe.data.source import DataSource
    from avsprobe.probes.base import ProbedSample
    from avsprobe.probes.suite import Job, ProbeSuite

__all__ = ["RunSummary", "RunPlan", "plan_jobs", "run_suite", "run_models", "run_folder_name", "model_folder_name",
           "prepare_batch",
           "METRIC_IDS", "IDENTITY_FIELDS", "RECORDS_FORMAT"]

METRIC_IDS = ("miou.canonical", "fscore.canonical", "fpr")
_FLUSH_JOBS = 64


@dataclass
class RunSummary:
    """What a run did: ``jobs`` in all, of which ``ok``, ``failed``, ``not_applicable``, and ``resumed``
    (already recorded by an earlier, interrupted run)."""

    run_dir: Path
    jobs: int
    ok: int
    failed: int
    not_applicable: int
    resumed: int


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True,
                             timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def prepare_batch(probed: list[ProbedSample], spec: Any, device: str) -> Any:
    """An ``AVBatch`` at the adapter's input spec: frames resized (bilinear) and normalised, audio resampled."""
    import torch

    from avsprobe.audio.io import resample
    from avsprobe.types import AVBatch

    frames = torch.from_numpy(np.stack([p.frames for p in probed])).to(device)  # [B, T, H, W, 3] uint8
    b, t, h, w, _ = frames.shape
    if spec.frames_per_clip is not None and spec.frames_per_clip != t:
        raise AdapterError(f"the model takes {spec.frames_per_clip} frames per clip; the data has {t}")
    x = frames.permute(0, 1, 4, 2, 3).reshape(b * t, 3, h, w).float() / 255.0
    if spec.frame_size is not None and tuple(spec.frame_size) != (h, w):
        x = torch.nn.functional.interpolate(x, size=tuple(spec.frame_size), mode="bilinear", align_corners=False)
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    x = ((x - mean) / std).reshape(b, t, 3, *x.shape[-2:])
    audio = [p.audio if spec.sample_rate_hz == 16_000 else resample(p.audio, 16_000, spec.sample_rate_hz)
             for p in probed]
    length = max(a.shape[0] for a in audio)
    audio_t = torch.zeros(b, length)
    for i, a in enumerate(audio):
        audio_t[i, : a.shape[0]] = torch.from_numpy(a.astype(np.float32))
    return AVBatch(frames=x, audio=audio_t.to(device), sample_ids=[p.sample_id for p in probed],
                   condition_ids=[p.condition_id for p in probed], truth=[_read_only_copy(p) for p in probed])


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    if array is None:
        return None
    out = array.copy()
    out.flags.writeable = False
    return out


def _read_only_copy(probed: ProbedSample) -> ProbedSample:
    """What an adapter may look at: copies that cannot be written, so scoring never sees its changes."""
    import copy
    import dataclasses

    return dataclasses.replace(
        probed, audio=_frozen(probed.audio), frames=_frozen(probed.frames), expected_mask=_frozen(probed.expected_mask),
        object_masks={k: _frozen(v) for k, v in probed.object_masks.items()}, annotated=_frozen(probed.annotated),
        applied=copy.deepcopy(probed.applied), expected_labels=_frozen(probed.expected_labels),
        original_mask=_frozen(probed.original_mask))


def _base_row(job: Job, index: int, model: str, sample: Any) -> dict[str, Any]:
    c = job.condition
    return {"job_index": index, "model": model, "sample_id": job.sample_id, "condition_id": c.condition_id,
            "probe": job.probe.name, "condition_label": c.label, "condition_order": float(c.order),
            "is_baseline": c.is_baseline, "category": getattr(sample, "category", ""),
            "split": getattr(sample, "split", "")}


def _empty_rows(base: dict[str, Any], status: str, reason: str) -> list[dict[str, Any]]:
    return [{**base, "status": status, "reason": reason, "frame": -1, "annotated": False}]


def _score(base: dict[str, Any], probed: ProbedSample, logits: torch.Tensor) -> list[dict[str, Any]]:
    """Rows for one clip: per-frame statistics of ``logits [T, H, W]`` against the expected mask."""
    import torch

    from avsprobe.metrics.binary import binary_frame_stats, frame_iou, object_coverage

    t, h, w = probed.expected_mask.shape
    if logits.shape[-2:] != (h, w):
        logits = torch.nn.functional.interpolate(logits[None].float(), size=(h, w), mode="bilinear",
                                                 align_corners=False)[0]
    logits = logits.detach().float().cpu()
    stats = binary_frame_stats(logits, probed.expected_mask)
    # a 64x64 thumbnail of each predicted mask (nearest), bit-packed: 512 bytes a frame, for reports
    thumbs = torch.nn.functional.interpolate((logits > 0).float()[None], size=(THUMB, THUMB), mode="nearest")[0] > 0.5
    packed = [pack_thumbnail(thumbs[k].numpy()) for k in range(t)]
    iou = frame_iou(stats)
    names = sorted(probed.object_masks)
    coverage = object_coverage(logits, np.stack([probed.object_masks[n] for n in names], axis=1)) if names else None
    applied = json.dumps(probed.applied, sort_keys=True, default=float)
    rows = []
    for k in range(t):
        rows.append({
            **base, "status": "ok", "reason": "", "frame": k, "annotated": bool(probed.annotated[k]),
            "num_pixels": stats.num_pixels, "intersection": int(stats.intersection[k]), "union": int(stats.union[k]),
            "pred_area": int(stats.pred_area[k]), "expected_area": int(stats.gt_area[k]), "iou": float(iou[k]),
            "fpr": float(stats.pred_area[k] / stats.num_pixels),
            "tp_at": stats.tp_at[k].astype(np.int32), "pp_at": stats.pp_at[k].astype(np.int32),
            "coverage": json.dumps({n: (None if math.isnan(v) else float(v))
                                    for n, v in zip(names, coverage[k], strict=True)}) if names else "{}",
            "object_area": json.dumps({n: int(probed.object_masks[n][k].sum()) for n in names}),
            "applied": applied, "pred_thumb": packed[k]})
    return rows


def _predict_rows(adapter: ModelAdapter, items: list[tuple[Job, int, Any, ProbedSample]], model: str,
                  device: str) -> list[dict[str, Any]]:
    import torch

    shapes = {(p.frames.shape, p.audio.shape) for *_, p in items}
    if len(shapes) > 1:  # AVSS mixes 5-frame v1 clips with 10-frame v2 clips: one model call per shape
        groups: dict[tuple, list] = {}
        for item in items:
            groups.setdefault((item[3].frames.shape, item[3].audio.shape), []).append(item)
        by_index = {id(item): rows for group in groups.values()
                    for item, rows in zip(group, _split_rows(_predict_rows(adapter, group, model, device), group),
                                          strict=True)}
        return [row for item in items for row in by_index[id(item)]]
    batch = prepare_batch([p for *_, p in items], adapter.input_spec, device)
    try:
        with torch.no_grad():
            logits = adapter.predict(batch)
    except Exception as exc:  # an adapter may raise anything; isolate the culprit clip by clip
        if len(items) > 1:
            return [row for item in items for row in _predict_rows(adapter, [item], model, device)]
        job, index, sample, _ = items[0]
        return _empty_rows(_base_row(job, index, model, sample), "failed", f"predict raised {type(exc).__name__}: {exc}")
    expected = (len(items), batch.frames.shape[1])
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape[:2]) != expected or logits.ndim != 4:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise AdapterError(f"{model}: predict must return logits [B, T, H, W] with B, T = {expected}, got {shape}")
    rows = []
    for i, (job, index, sample, probed) in enumerate(items):
        base = _base_row(job, index, model, sample)
        if not torch.isfinite(logits[i]).all():
            rows += _empty_rows(base, "failed", "logits contain NaN or inf")
        else:
            rows += _score(base, probed, logits[i])
    return rows


def _split_rows(rows: list[dict[str, Any]], items: list) -> list[list[dict[str, Any]]]:
    """Rows of several clips back into one list per clip, by job index (rows come clip after clip)."""
    by_job: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_job.setdefault(row["job_index"], []).append(row)
    return [by_job[index] for _, index, *_ in items]


def model_folder_name(adapter: ModelAdapter) -> str:
    """The run-folder name of a model: its name, plus for any other than the default (another checkpoint,
    options, a predictions folder) a short readable suffix and 6 characters of its fingerprint, so two
    different models never share a folder (``vanilla``, ``vanilla-checkpoint=seed1-3fa2b1``)."""
    from avsprobe.adapters.base import variant_text

    variant = adapter.variant()
    if not variant:
        return run_folder_name(adapter.name)
    readable = variant_text(variant).replace(", ", "-")[:40]
    return run_folder_name(f"{adapter.name}-{readable}-{adapter.fingerprint()[:6]}")


def run_folder_name(model: str) -> str:
    """A model name made safe as one folder name (``audio-blind:vanilla`` -> ``audio-blind_vanilla``; a
    leading dot, which could make ``..``, becomes ``_``)."""
    import re

    safe = re.sub(r"[^A-Za-z0-9._=+-]", "_", model)
    return "_" + safe[1:] if safe.startswith(".") else (safe or "_")


def run_suite(
    adapter: ModelAdapter,
    suite: ProbeSuite,
    source: DataSource,
    run_dir: str | Path,
    *,
    batch_size: int = 8,
    limit: int | None = None,
    device: str = "cpu",
    flush_jobs: int = _FLUSH_JOBS,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run every job of ``suite`` over ``source`` through ``adapter``, recording into ``run_dir``.

    ``flush_jobs``: jobs per parquet part (a killed run redoes at most that many).

    Raises:
        ConfigError: ``run_dir`` holds a different run (other model, suite, data, split or subset), or
            another process is running in it.
    """
    return run_models([adapter], suite, source, [run_dir], batch_size=batch_size, limit=limit, device=device,
                      flush_jobs=flush_jobs, on_progress=on_progress)[0]


RECORDS_FORMAT = 2
"""Version of the records' job keys: 2 numbers jobs over every sample of the split, so ``--limit`` only
selects among them and a larger limit extends a run."""

IDENTITY_FIELDS = ("records_format", "model_fingerprint", "suite_fingerprint", "data_fingerprint",
                   "data_files_fingerprint", "split", "subset")
"""What makes a run folder's run: a resume must match every one (``--limit`` is not among them)."""


@dataclass
class RunPlan:
    """The jobs of a run: ``jobs`` as ``(index, job)`` with ``index`` the job's position among the jobs of
    every sample of the split (stable under ``--limit``), and the ``sample_ids`` the limit keeps."""

    probes: list[Any]
    jobs: list[tuple[int, Job]]
    sample_ids: list[str]


def plan_jobs(suite: ProbeSuite, source: DataSource, limit: int | None) -> RunPlan:
    """Every (probe, sample, condition) of the first ``limit`` samples, numbered over all samples."""
    all_ids = list(source.reader.sample_ids())  # type: ignore[attr-defined]
    kept = all_ids[:limit] if limit else all_ids
    keep = set(kept)
    probes = suite.build(bank=source.bank, classes=source.classes or None)
    jobs = [(i, job) for i, job in enumerate(suite.jobs(all_ids, probes)) if job.sample_id in keep]
    return RunPlan(probes, jobs, kept)


def _identity_mismatch(previous: dict[str, Any], info: dict[str, Any]) -> str | None:
    for key in IDENTITY_FIELDS:
        old, new = previous.get(key), info[key]
        if old != new:
            if key == "records_format":
                return f"it was recorded by an older avsprobe (records format {old or 1}, now {new})"
            show = (lambda v: f"{str(v)[:12]}...") if key.endswith("fingerprint") else repr
            return f"{key} differs: {show(old)} there, {show(new)} now"
    return None


def _start_run(adapter: ModelAdapter, suite: ProbeSuite, source: DataSource, run_dir: Path, plan: RunPlan,
               limit: int | None, device: str, folder_flag: str = "--out") -> None:
    """Check that ``run_dir`` is empty or holds this very run, then write its ``run.json``."""
    from avsprobe.data.fingerprint import data_files_fingerprint, data_fingerprint

    adapter.to(device)
    data_root = source.data_root or source.root
    info = {
        "records_format": RECORDS_FORMAT,
        "model": adapter.name, "model_fingerprint": adapter.fingerprint(), "model_options": adapter.options,
        "model_variant": adapter.variant(),
        "suite": suite.to_dict(), "suite_fingerprint": suite.fingerprint(), "seed": suite.seed,
        "data": source.description, "data_root": str(source.root), "subset": source.subset,
        "data_fingerprint": data_fingerprint(data_root), "data_files_fingerprint": data_files_fingerprint(data_root),
        "split": getattr(source.reader, "split", ""), "limit": limit,
        "sample_ids": plan.sample_ids, "jobs_planned": len(plan.jobs),
        "train_sounding_frequency": source.train_frequency, "audio_bank": source.bank_source,
        "class_list": source.class_list,
        "avsprobe_version": __version__, "git_hash": _git_hash(), "device": device,
        "metric_definitions": list(METRIC_IDS), "empty_gt_policy": "strict",
    }
    info_path = run_dir / "run.json"
    if info_path.is_file():
        previous = read_run_info(run_dir)
        why = _identity_mismatch(previous, info)
        if why:
            raise ConfigError(f"{run_dir} holds a different run: {why}. Use another {folder_flag} (a run folder holds "
                              "one model, suite, data set, split and subset)")
    elif any((run_dir / PARTS_DIR).glob("*.parquet")):
        raise ConfigError(f"{run_dir} holds records but no run.json; use another {folder_flag}")
    atomic_write_text(info_path, json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")


@dataclass
class _ModelRun:
    """One model's share of a multi-model run: its adapter, folder, what it has done and what waits to be written."""

    adapter: ModelAdapter
    run_dir: Path
    done: set[tuple[str, str]]
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0, "not_applicable": 0})
    pending: list[dict[str, Any]] = field(default_factory=list)

    def needs(self, job: Job) -> bool:
        return (job.sample_id, job.condition.condition_id) not in self.done

    def add(self, rows: list[dict[str, Any]]) -> None:
        for status in self.counts:
            self.counts[status] += len({r["job_index"] for r in rows if r["status"] == status})
        self.pending += rows

    def flush(self) -> None:
        if self.pending:
            write_part(self.run_dir, self.pending)
            self.pending = []


class _SampleCache:
    """The last sample read: jobs come condition by condition for one sample, so one is enough. A sample that
    cannot be read is remembered as its error, so every job of it fails with the file and reason."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self._key: str | None = None
        self._value: Any = None

    def get(self, sample_id: str) -> Any:
        if sample_id != self._key:
            try:
                self._value = self.reader.read(sample_id)
            except DataError as exc:
                self._value = exc
            self._key = sample_id
        return self._value


def _probe_chunk(chunk: list[tuple[int, Job]], models: list[_ModelRun], suite: ProbeSuite, cache: _SampleCache
                 ) -> list[tuple[Job, int, Any, ProbedSample]]:
    """Probe each job of a chunk; jobs that cannot run are recorded at once (not applicable, unreadable)."""
    items = []
    for index, job in chunk:
        sample = cache.get(job.sample_id)
        if isinstance(sample, DataError):
            for model in models:
                if model.needs(job):
                    model.add(_empty_rows(_base_row(job, index, model.adapter.name, None), "failed",
                                          f"could not read the clip: {sample}"))
            continue
        try:
            probed = job.probe.apply(sample, job.condition, suite.rng(job.sample_id, job.condition))
        except (ProbeNotApplicable, DataError) as exc:
            status = "not_applicable" if isinstance(exc, ProbeNotApplicable) else "failed"
            for model in models:
                if model.needs(job):
                    model.add(_empty_rows(_base_row(job, index, model.adapter.name, sample), status, str(exc)))
            continue
        items.append((job, index, sample, probed))
    return items


def run_models(
    adapters: Sequence[ModelAdapter],
    suite: ProbeSuite,
    source: DataSource,
    run_dirs: Sequence[str | Path],
    *,
    batch_size: int = 8,
    limit: int | None = None,
    device: str = "cpu",
    flush_jobs: int = _FLUSH_JOBS,
    on_progress: Callable[[int, int], None] | None = None,
    folder_flag: str = "--out",
) -> list[RunSummary]:
    """:func:`run_suite` for several models at once: each probed sample is made once and given to every
    model, each model recording into its own run folder (the records equal separate runs').

    Stages: plan the jobs, lock and check each folder, then chunk by chunk probe, predict and score, and
    write a part every ``flush_jobs`` jobs. ``on_progress`` counts jobs (each job done for every model);
    ``folder_flag`` is the option a refusal tells the user to change (the demo's is ``--runs``).
    """
    from avsprobe.devices import check_device

    if len(adapters) != len(run_dirs):
        raise ValueError("one run folder per adapter")
    check_device(device)
    plan = plan_jobs(suite, source, limit)
    with contextlib.ExitStack() as stack:
        models = []
        for adapter, run_dir in zip(adapters, run_dirs, strict=True):
            folder = Path(run_dir)
            stack.enter_context(run_lock(folder))
            _start_run(adapter, suite, source, folder, plan, limit, device, folder_flag)
            models.append(_ModelRun(adapter, folder, done_jobs(folder)))
        return _execute(plan, models, suite, source, batch_size=batch_size, device=device, flush_jobs=flush_jobs,
                        on_progress=on_progress)


def _execute(plan: RunPlan, models: list[_ModelRun], suite: ProbeSuite, source: DataSource, *, batch_size: int,
             device: str, flush_jobs: int, on_progress: Callable[[int, int], None] | None) -> list[RunSummary]:
    todo = [(i, job) for i, job in plan.jobs if any(m.needs(job) for m in models)]
    finished = len(plan.jobs) - len(todo)
    resumed = [sum(1 for _, job in plan.jobs if not m.needs(job)) for m in models]
    if on_progress:
        on_progress(finished, len(plan.jobs))
    cache = _SampleCache(source.reader)
    # Parts hold about flush_jobs jobs: each parquet write costs tens of ms, and a killed run loses at most
    # one part's worth of work.
    flush_every, since_flush = max(batch_size, flush_jobs), 0
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        items = _probe_chunk(chunk, models, suite, cache)
        for model in models:
            mine = [item for item in items if model.needs(item[0])]
            if mine:
                model.add(_predict_rows(model.adapter, mine, model.adapter.name, device))
        since_flush += len(chunk)
        if since_flush >= flush_every or start + batch_size >= len(todo):
            for model in models:
                model.flush()
            since_flush = 0
        finished += len(chunk)
        if on_progress:
            on_progress(finished, len(plan.jobs))
    return [RunSummary(m.run_dir, len(plan.jobs), m.counts["ok"], m.counts["failed"], m.counts["not_applicable"], r)
            for m, r in zip(models, resumed, strict=True)]
