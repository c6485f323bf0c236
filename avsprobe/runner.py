"""The run engine: every (clip, condition) of a suite through a model adapter, into a records table.

Jobs are enumerated in a fixed order (probe, sample, condition) and numbered; batches of ``batch_size``
jobs are probed, prepared to the adapter's input spec, predicted in one call and scored per frame against
the expected mask; every 64 jobs or so the rows are written as one parquet part. A rerun skips the
numbered jobs already recorded, so a killed run resumes where it stopped and ends with the same records.

A clip whose logits hold NaN or inf, or whose prediction raises, is recorded as ``failed`` with the reason
(a raising batch is retried clip by clip to find the culprit); a condition that does not apply is recorded
as ``not_applicable``. Neither stops the run.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe._version import __version__
from avsprobe.errors import AdapterError, ConfigError, ProbeNotApplicable
from avsprobe.fileio import atomic_write_text
from avsprobe.results import done_jobs, write_part

if TYPE_CHECKING:
    import torch

    from avsprobe.adapters.base import ModelAdapter
    from avsprobe.data.source import DataSource
    from avsprobe.probes.base import ProbedSample
    from avsprobe.probes.suite import Job, ProbeSuite

__all__ = ["RunSummary", "run_suite", "run_models", "run_folder_name", "prepare_batch", "METRIC_IDS"]

METRIC_IDS = ("miou.canonical", "fscore.canonical", "fpr")
_FLUSH_JOBS = 64
THUMB = 64  # side of the stored prediction thumbnails (``pred_thumb``: np.packbits of bool [64, 64])


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


def _data_fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for name in ("world.json", "metadata.csv", "coavs.json"):
        if (root / name).is_file():
            digest.update((root / name).read_bytes())
    for sub in ("Single-source/s4_meta_data.csv", "Multi-sources/ms3_meta_data.csv"):
        if (root / sub).is_file():
            digest.update((root / sub).read_bytes())
    return digest.hexdigest()


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
                   condition_ids=[p.condition_id for p in probed], truth=probed)


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
    packed = [np.packbits(thumbs[k].numpy()).tobytes() for k in range(t)]
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


def run_folder_name(model: str) -> str:
    """A model name made safe as a folder name (``audio-blind:vanilla`` -> ``audio-blind_vanilla``)."""
    import re

    return re.sub(r"[^A-Za-z0-9._=+-]", "_", model)


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
        ConfigError: ``run_dir`` holds a different run (other model, suite or data).
    """
    return run_models([adapter], suite, source, [run_dir], batch_size=batch_size, limit=limit, device=device,
                      flush_jobs=flush_jobs, on_progress=on_progress)[0]


def _start_run(adapter: ModelAdapter, suite: ProbeSuite, source: DataSource, run_dir: Path, limit: int | None,
               device: str) -> None:
    adapter.to(device)
    info = {
        "model": adapter.name, "model_fingerprint": adapter.fingerprint(), "model_options": adapter.options,
        "suite": suite.to_dict(), "suite_fingerprint": suite.fingerprint(), "seed": suite.seed,
        "data": source.description, "data_root": str(source.root), "subset": source.subset,
        "data_fingerprint": _data_fingerprint(source.data_root or source.root),
        "split": getattr(source.reader, "split", ""), "limit": limit,
        "train_sounding_frequency": source.train_frequency, "audio_bank": source.bank_source,
        "class_list": source.class_list,
        "avsprobe_version": __version__, "git_hash": _git_hash(), "device": device,
        "metric_definitions": list(METRIC_IDS), "empty_gt_policy": "strict",
    }
    key_fields = ("model_fingerprint", "suite_fingerprint", "data_fingerprint", "limit")
    info_path = run_dir / "run.json"
    if info_path.is_file():
        previous = json.loads(info_path.read_text())
        changed = [k for k in key_fields if previous.get(k) != info[k]]
        if changed:
            raise ConfigError(f"{run_dir} holds a different run ({', '.join(changed)} differ); use another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(info_path, json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")


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
) -> list[RunSummary]:
    """:func:`run_suite` for several models at once: each probed sample is made once and given to every
    model, each model recording into its own run folder (the records equal separate runs').

    ``on_progress`` counts jobs (each job done for every model).
    """
    if len(adapters) != len(run_dirs):
        raise ValueError("one run folder per adapter")
    dirs = [Path(d) for d in run_dirs]
    for adapter, run_dir in zip(adapters, dirs, strict=True):
        _start_run(adapter, suite, source, run_dir, limit, device)
    sample_ids = source.reader.sample_ids()  # type: ignore[attr-defined]
    sample_ids = sample_ids[:limit] if limit else sample_ids
    probes = suite.build(bank=source.bank, classes=source.classes or None)
    jobs = list(suite.jobs(sample_ids, probes))
    done = [done_jobs(d) for d in dirs]
    todo = [(i, job) for i, job in enumerate(jobs) if any(i not in d for d in done)]
    counts = [{"ok": 0, "failed": 0, "not_applicable": 0} for _ in adapters]
    finished = len(jobs) - len(todo)
    if on_progress:
        on_progress(finished, len(jobs))
    cache: dict[str, Any] = {}
    pending: list[list[dict[str, Any]]] = [[] for _ in adapters]
    # Parts hold about _FLUSH_JOBS jobs: each parquet write costs tens of ms, and a killed run loses
    # at most one part's worth of work.
    flush_every = max(batch_size, flush_jobs)
    since_flush = 0
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        rows: list[list[dict[str, Any]]] = [[] for _ in adapters]
        items = []
        for index, job in chunk:
            if job.sample_id not in cache:
                cache = {job.sample_id: source.reader.read(job.sample_id)}  # type: ignore[attr-defined]
            sample = cache[job.sample_id]
            try:
                probed = job.probe.apply(sample, job.condition, suite.rng(job.sample_id, job.condition))
            except ProbeNotApplicable as exc:
                for m, adapter in enumerate(adapters):
                    if index not in done[m]:
                        rows[m] += _empty_rows(_base_row(job, index, adapter.name, sample), "not_applicable", str(exc))
                continue
            items.append((job, index, sample, probed))
        for m, adapter in enumerate(adapters):
            mine = [item for item in items if item[1] not in done[m]]
            if mine:
                rows[m] += _predict_rows(adapter, mine, adapter.name, device)
            for status in counts[m]:
                counts[m][status] += len({r["job_index"] for r in rows[m] if r["status"] == status})
            pending[m] += rows[m]
        since_flush += len(chunk)
        if since_flush >= flush_every or start + batch_size >= len(todo):
            for m, run_dir in enumerate(dirs):
                if pending[m]:
                    write_part(run_dir, pending[m])
            pending, since_flush = [[] for _ in adapters], 0
        finished += len(chunk)
        if on_progress:
            on_progress(finished, len(jobs))
    return [RunSummary(d, len(jobs), c["ok"], c["failed"], c["not_applicable"], len(dn))
            for d, c, dn in zip(dirs, counts, done, strict=True)]
