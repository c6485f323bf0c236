"""The run engine: every (clip, condition) of a suite through a model adapter, into a records table.

Jobs are enumerated in a fixed order (probe, sample, condition) over every sample of the split and
numbered; ``--limit`` keeps the jobs of the first samples. Batches of ``batch_size`` jobs are probed,
prepared to the adapter's input spec, predicted in one call and scored per frame against the expected
mask; every 64 jobs or so the rows are written as one parquet part. A rerun skips the jobs already
recorded, keyed by (sample, condition), so a killed run resumes where it stopped and ends with the same
records, and a larger ``--limit`` extends a run. A run folder holds one run
(:data:`avsprobe.results.IDENTITY_FIELDS`), and an exclusive lock keeps a second process out while one runs.

A clip whose files cannot be read, whose logits hold NaN or inf, or whose prediction raises, is recorded as
``failed`` with the reason (a raising batch is retried clip by clip to find the culprit); a condition that
does not apply is recorded as ``not_applicable``. Neither stops the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import os
import queue
import re
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe import memory_guard
from avsprobe._version import __version__
from avsprobe.adapters.base import variant_text
from avsprobe.adapters.batching import prepare_batch
from avsprobe.data.fingerprint import data_files_fingerprint, data_fingerprint
from avsprobe.devices import check_device, exact_float32
from avsprobe.errors import AdapterError, ConfigError, DataError
from avsprobe.fileio import atomic_write_text
from avsprobe.memory_guard import BatchChoice, choose_batch, peak_rss_mb
from avsprobe.pipeline import default_probe_workers, probe_chunks
from avsprobe.predictions import (
    PREDICTIONS_FORMAT,
    KeptPrediction,
    notes_of,
    predictions_path,
    write_predictions,
)
from avsprobe.records import RECORDS_FORMAT
from avsprobe.results import (
    PARTS_DIR,
    done_jobs,
    identity_mismatch,
    new_part_path,
    read_run_info,
    run_lock,
    write_part,
)
from avsprobe.scoring import base_row, empty_rows, score_rows
from avsprobe.semantic_scoring import model_classes

if TYPE_CHECKING:

    from avsprobe.adapters.base import ModelAdapter
    from avsprobe.data.source import DataSource
    from avsprobe.probes.base import ProbedSample
    from avsprobe.probes.suite import Job, ProbeSuite

__all__ = ["RunSummary", "RunOptions", "RunPlan", "plan_jobs", "run_suite", "run_models", "run_folder_name", "model_folder_name",
           "prepare_batch",
           "METRIC_IDS", "RECORDS_FORMAT"]

METRIC_IDS = ("miou.canonical", "fscore.canonical", "fpr")
_FLUSH_JOBS = 64
_PREPARED_AHEAD = 4
"""Chunks prepared for the model ahead of prediction, with probe workers."""
_SCORING_BEHIND = 2
"""Predicted chunks that may wait for the scoring thread before prediction waits for it."""


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
    batch: BatchChoice | None = None
    reasons: tuple[tuple[str, str, str, int], ...] = ()
    """``(status, probe, reason, jobs)`` of the jobs that failed or did not apply in this invocation, most
    frequent first."""
    kept_bytes: int = 0
    """Bytes of the predictions this invocation kept (:mod:`avsprobe.predictions`; 0: none kept)."""


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True,
                             timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass
class _Call:
    """One model call: the items (``(job, index, info, probed)``) of one frame and audio shape, and their
    batch at the adapter's input spec."""

    items: list[tuple[Job, int, Any, ProbedSample]]
    batch: Any


def predicts_clip_by_clip(device: str) -> bool:
    """Whether the model sees one probed clip per call: on the CPU, where a kernel's float results depend on
    the batch it is given (a clip's logits in a batch of 3 and of 8 differ in the last bits, and a threshold
    count with them), so that the records do not depend on ``--batch-size``; on an accelerator the batch
    is kept and recorded (``predict_batch`` in ``run.json``)."""
    return device == "cpu"


def _prepare_calls(adapter: ModelAdapter, items: list[tuple[Job, int, Any, ProbedSample]], device: str
                   ) -> list[_Call]:
    """The model calls for ``items``: one per frame and audio shape (AVSS mixes 5-frame v1 clips with
    10-frame v2 clips), or one per clip on the CPU (:func:`predicts_clip_by_clip`), each batch prepared to the
    adapter's input spec."""
    groups: dict[tuple, list] = {}
    for item in items:
        key = (item[1],) if predicts_clip_by_clip(device) else (item[3].frames.shape, item[3].audio.shape)
        groups.setdefault(key, []).append(item)
    return [_Call(group, prepare_batch([p for *_, p in group], adapter.input_spec, device)) for group in groups.values()]


def default_cpu_threads() -> int:
    """Intra-op threads of a CPU model: the machine's cores (at most 8), never the environment's setting
    (``torchrun`` sets OMP_NUM_THREADS=1 per rank), since a model's float results depend on it."""
    return max(1, min(8, os.cpu_count() or 1))


@contextlib.contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Torch's intra-op threads set to ``count`` for the block (None: unchanged), restored after."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _predict_call(adapter: ModelAdapter, call: _Call) -> Any:
    """The adapter's logits for a call, or the exception it raised (an adapter may raise anything)."""
    import torch

    try:
        with torch.no_grad(), exact_float32():
            return adapter.predict(call.batch)
    except Exception as exc:  # isolated clip by clip when scored
        return exc


def _score_call(adapter: ModelAdapter, call: _Call, logits: Any, model: str, device: str,
                kept: list[KeptPrediction] | None = None) -> list[dict[str, Any]]:
    """Rows of one call: scored clips, clips with non-finite logits failed; a call that raised is retried
    clip by clip to find the culprit. With ``kept``, the scored clips' kept predictions are appended to it."""
    import torch

    items = call.items
    if isinstance(logits, Exception):
        if len(items) > 1:
            return [row for item in items for row in _predict_rows(adapter, [item], model, device, kept)]
        job, index, info, _ = items[0]
        return empty_rows(base_row(job, index, model, info), "failed",
                          f"predict raised {type(logits).__name__}: {logits}")
    expected = (len(items), call.batch.frames.shape[1])
    semantic = adapter.input_spec.output == "semantic"
    if semantic:
        from avsprobe.semantic_scoring import model_classes, semantic_parts

        classes = model_classes(adapter.input_spec)
        layout, dims = f"[B, T, K, H, W] with K = {len(classes)}", 5
    else:
        layout, dims = "[B, T, H, W]", 4
    if (not isinstance(logits, torch.Tensor) or tuple(logits.shape[:2]) != expected or logits.ndim != dims
            or (semantic and logits.shape[2] != len(classes))):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise AdapterError(f"{model}: predict must return logits {layout} and B, T = {expected}, got {shape}")
    finite = torch.isfinite(logits.reshape(len(items), -1)).all(dim=1).tolist()
    bases = [base_row(job, index, model, info) for job, index, info, _ in items]
    rows = [row for base, ok in zip(bases, finite, strict=True) if not ok
            for row in empty_rows(base, "failed", "logits contain NaN or inf")]
    keep = [i for i, ok in enumerate(finite) if ok]
    if not keep:
        return rows
    with torch.no_grad():
        notes = adapter.frame_notes(call.batch)
    extra = [notes[i] if notes else [{} for _ in range(expected[1])] for i in keep]
    kept_notes = [notes_of(n) for n in extra]
    class_maps = None
    if semantic:
        parts = [semantic_parts(items[i][3], logits[i], classes) for i in keep]
        extra = [[{**note, **fields} for note, fields in zip(n, p[1], strict=True)] for n, p in zip(extra, parts, strict=True)]
        logits = torch.stack([p[0] for p in parts])
        class_maps = [p[2] for p in parts]
    else:
        logits = logits[keep]
    clips: list[KeptPrediction] | None = [] if kept is not None else None
    rows += score_rows([bases[i] for i in keep], [items[i][3] for i in keep], logits, extra, kept=clips)
    if kept is not None and clips is not None:
        for n, clip in enumerate(clips):
            clip.notes = kept_notes[n]
            clip.classes = class_maps[n] if class_maps else None
        kept += clips
    return rows


def _predict_rows(adapter: ModelAdapter, items: list[tuple[Job, int, Any, ProbedSample]], model: str,
                  device: str, kept: list[KeptPrediction] | None = None) -> list[dict[str, Any]]:
    """Prepare, predict and score ``items`` in this thread (the clip-by-clip retry path)."""
    return [row for call in _prepare_calls(adapter, items, device)
            for row in _score_call(adapter, call, _predict_call(adapter, call), model, device, kept)]


def model_folder_name(adapter: ModelAdapter) -> str:
    """The run-folder name of a model: its name, plus for any other than the default (another checkpoint,
    options, a predictions folder) a short readable suffix and 6 characters of its fingerprint, so two
    different models never share a folder (``vanilla``, ``vanilla-checkpoint=seed1-3fa2b1``)."""
    variant = adapter.variant()
    if not variant:
        return run_folder_name(adapter.name)
    readable = variant_text(variant).replace(", ", "-")[:40]
    return run_folder_name(f"{adapter.name}-{readable}-{adapter.fingerprint()[:6]}")


def run_folder_name(model: str) -> str:
    """A model name made safe as one folder name (``audio-blind:vanilla`` -> ``audio-blind_vanilla``; a
    leading dot, which could make ``..``, becomes ``_``)."""
    safe = re.sub(r"[^A-Za-z0-9._=+-]", "_", model)
    return "_" + safe[1:] if safe.startswith(".") else (safe or "_")


@dataclass(frozen=True)
class RunOptions:
    """How a run goes, passed unchanged from :func:`run_suite` through :func:`run_models` to the pipeline.

    Attributes:
        batch_size: clips per chunk (and per model call on an accelerator); the memory guard may lower it.
        limit: only the first ``limit`` clips of the split (None: all).
        device: the torch device.
        flush_jobs: jobs per parquet part (a killed run redoes at most that many).
        workers: processes that read and probe ahead of inference (None: one per core but one, up to 4;
            0: in this process). The records do not depend on it.
        shard: ``(i, n)``: only the clips at positions ``i, i + n, ...`` of the split (``--shard i/n``, or each
            rank of ``torchrun``); shards share the run folder, each writing its own parts.
        threads: a CPU model's intra-op threads (None: :func:`default_cpu_threads`), set for the run whatever
            the environment says and recorded in ``run.json`` (``torch_threads``): a resume under another count
            is refused, since a model's float results depend on it.
        keep_predictions: keep each scored job's predictions (:mod:`avsprobe.predictions`) for
            ``avsprobe rescore``.
        folder_flag: the option a refusal tells the user to change (the demo's is ``--runs``).
    """

    batch_size: int = 8
    limit: int | None = None
    device: str = "cpu"
    flush_jobs: int = _FLUSH_JOBS
    workers: int | None = None
    shard: tuple[int, int] | None = None
    threads: int | None = None
    keep_predictions: bool = True
    folder_flag: str = "--out"


def _options(options: RunOptions | None, settings: dict[str, Any]) -> RunOptions:
    """``options`` (default: :class:`RunOptions`'s) with ``settings``, keyword arguments of its field names."""
    unknown = set(settings) - {f.name for f in dataclasses.fields(RunOptions)}
    if unknown:
        raise TypeError(f"unknown run options: {', '.join(sorted(unknown))}")
    return dataclasses.replace(options or RunOptions(), **settings)


def run_suite(adapter: ModelAdapter, suite: ProbeSuite, source: DataSource, run_dir: str | Path,
              options: RunOptions | None = None, *, on_progress: Callable[[int, int], None] | None = None,
              **settings: Any) -> RunSummary:
    """Run every job of ``suite`` over ``source`` through ``adapter``, recording into ``run_dir``.

    ``options`` (:class:`RunOptions`), or its fields as keyword arguments (``limit=4``); ``on_progress(done,
    total)`` counts jobs.

    Raises:
        ConfigError: ``run_dir`` holds a different run (other model, suite, data, split or subset), or
            another process is running in it.
    """
    return run_models([adapter], suite, source, [run_dir], _options(options, settings), on_progress=on_progress)[0]


@dataclass
class RunPlan:
    """The jobs of a run: ``jobs`` as ``(index, job)`` with ``index`` the job's position among the jobs of
    every sample of the split (stable under ``--limit``), and the ``sample_ids`` the limit keeps."""

    jobs: list[tuple[int, Job]]
    sample_ids: list[str]

    @functools.cached_property
    def sample_position(self) -> dict[str, int]:
        """Each planned clip's position in the split (what shards are dealt by)."""
        return {s: i for i, s in enumerate(self.sample_ids)}


def plan_jobs(suite: ProbeSuite, source: DataSource, limit: int | None) -> RunPlan:
    """Every (probe, sample, condition) of the first ``limit`` samples, numbered over all samples."""
    all_ids = list(source.reader.sample_ids())  # type: ignore[attr-defined]
    kept = all_ids[:limit] if limit else all_ids
    keep = set(kept)
    probes = suite.build(bank=source.bank, classes=source.classes or None)
    jobs = [(i, job) for i, job in enumerate(suite.jobs(all_ids, probes)) if job.sample_id in keep]
    return RunPlan(jobs, kept)


def _semantic_classes(adapter: ModelAdapter) -> tuple[str, ...]:
    if adapter.input_spec.output != "semantic":
        return ()

    return model_classes(adapter.input_spec)


def _data_fingerprints(source: DataSource) -> dict[str, str]:
    """The data's identity fields of ``run.json`` (:mod:`avsprobe.data.fingerprint`)."""
    data_root = source.data_root or source.root
    return {"data_fingerprint": data_fingerprint(data_root), "data_files_fingerprint": data_files_fingerprint(data_root)}


def _start_run(adapter: ModelAdapter, suite: ProbeSuite, source: DataSource, run_dir: Path, plan: RunPlan,
               options: RunOptions, fingerprints: dict[str, str], settings: dict[str, Any]) -> None:
    """Check that ``run_dir`` is empty or holds this very run, then write its ``run.json`` (of a sharded run,
    shard 0 writes it, or any shard that finds none)."""
    limit, device, shard, folder_flag = options.limit, options.device, options.shard, options.folder_flag
    adapter.to(device)
    info = {
        "records_format": RECORDS_FORMAT,
        "model": adapter.name, "model_fingerprint": adapter.fingerprint(), "model_options": adapter.options,
        "model_variant": adapter.variant(), "model_seed": adapter.training_seed(), "output": adapter.input_spec.output,
        "model_classes": list(_semantic_classes(adapter)),
        "suite": suite.to_dict(), "suite_fingerprint": suite.fingerprint(), "seed": suite.seed,
        "data": source.description, "data_root": str(Path(source.root).resolve()), "subset": source.subset,
        "data_layout_root": str(Path(source.data_root or source.root).resolve()),
        **fingerprints,
        "split": getattr(source.reader, "split", ""), "limit": limit,
        "sample_ids": plan.sample_ids, "jobs_planned": len(plan.jobs),
        "train_sounding_frequency": source.train_frequency, "audio_bank": source.bank_source,
        "class_list": source.class_list,
        "avsprobe_version": __version__, "git_hash": _git_hash(), "device": device,
        "metric_definitions": list(METRIC_IDS), "empty_gt_policy": "strict",
        "torch_threads": None, "predict_batch": None, **settings,
        **({"posterior_bed": source.posterior_bed} if source.posterior_bed else {}),
    }
    info_path = run_dir / "run.json"
    if info_path.is_file():
        previous = read_run_info(run_dir)
        why = identity_mismatch(previous, info)
        if why:
            raise ConfigError(f"{run_dir} holds a different run: {why}. Use another {folder_flag} (a run folder holds "
                              "one model, suite, data set, split and subset)")
    elif any((run_dir / PARTS_DIR).glob("*.parquet")) and shard is None:
        raise ConfigError(f"{run_dir} holds records but no run.json; use another {folder_flag}")
    if shard is None or shard[0] == 0 or not info_path.is_file():
        with _run_json_lock(run_dir):
            # what runs record later (each shard's peak memory) survives a restart of shard 0
            merged = {**(read_run_info(run_dir) if info_path.is_file() else {}), **info}
            atomic_write_text(info_path, json.dumps(merged, indent=1, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def _run_json_lock(run_dir: Path) -> Iterator[None]:
    """Shards read and rewrite ``run.json`` one at a time."""
    with open(run_dir / "run.json.lock", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        yield


@dataclass
class _ModelRun:
    """One model's share of a multi-model run: its adapter, folder, what it has done and what waits to be written."""

    adapter: ModelAdapter
    run_dir: Path
    done: set[tuple[str, str]]
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0, "not_applicable": 0})
    reasons: dict[tuple[str, str, str], int] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    part_tag: str = ""
    kept: list[KeptPrediction] | None = None
    """The pending jobs' kept predictions (None: the run does not keep them)."""
    kept_bytes: int = 0

    def needs(self, job: Job) -> bool:
        return (job.sample_id, job.condition.condition_id) not in self.done

    def add(self, rows: list[dict[str, Any]]) -> None:
        for status in self.counts:
            self.counts[status] += len({r["job_index"] for r in rows if r["status"] == status})
        for key in {(r["job_index"], r["status"], r["probe"], r["reason"]) for r in rows if r["status"] != "ok"}:
            self.reasons[key[1:]] = self.reasons.get(key[1:], 0) + 1
        self.pending += rows

    def flush(self) -> None:
        if self.pending:
            path = new_part_path(self.run_dir, tag=self.part_tag)
            if self.kept is not None:  # first, so that a part on disk always has its predictions
                self.kept_bytes += write_predictions(predictions_path(path), self.kept)
                self.kept = []
            write_part(self.run_dir, self.pending, path=path)
            self.pending = []


def run_models(adapters: Sequence[ModelAdapter], suite: ProbeSuite, source: DataSource,
               run_dirs: Sequence[str | Path], options: RunOptions | None = None, *,
               on_progress: Callable[[int, int], None] | None = None, **settings: Any) -> list[RunSummary]:
    """:func:`run_suite` for several models at once: each probed sample is made once and given to every
    model, each model recording into its own run folder (the records equal separate runs').

    Stages: plan the jobs, lock and check each folder, then chunk by chunk probe, predict and score, and
    write a part every ``flush_jobs`` jobs. ``options`` (:class:`RunOptions`) or its fields as keyword
    arguments; ``on_progress`` counts jobs (each job done for every model).
    """
    options = _options(options, settings)
    device, shard = options.device, options.shard
    if len(adapters) != len(run_dirs):
        raise ValueError("one run folder per adapter")
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ConfigError(f"shard {shard[0]}/{shard[1]} does not exist: use i/n with 0 <= i < n")
    check_device(device)
    for adapter in adapters:
        if adapter.input_spec.audio == "precomputed":
            from avsprobe.audio.features import NOT_PROBEABLE

            raise ConfigError(f"{adapter.name} {NOT_PROBEABLE}")
    plan = plan_jobs(suite, source, options.limit)
    batch = _batch_for(plan, source, options.batch_size)
    threads = (options.threads or default_cpu_threads()) if device == "cpu" else None
    workers = default_probe_workers() if options.workers is None else options.workers
    # what the run resolves (the batch the memory guard allows, the threads, the workers), passed on as one
    options = dataclasses.replace(options, batch_size=batch.chosen, threads=threads, workers=workers)
    recorded = {"torch_threads": threads, "predict_batch": 1 if predicts_clip_by_clip(device) else batch.chosen,
                **({"predictions_format": PREDICTIONS_FORMAT} if options.keep_predictions else {})}
    with contextlib.ExitStack() as stack:
        stack.enter_context(_torch_threads(threads))
        fingerprints = _data_fingerprints(source)  # once for every model: it stats every file of the tree
        models = []
        for adapter, run_dir in zip(adapters, run_dirs, strict=True):
            folder = Path(run_dir)
            stack.enter_context(run_lock(folder, shard))
            _start_run(adapter, suite, source, folder, plan, options, fingerprints, recorded)
            tag = f"s{shard[0]}of{shard[1]}-" if shard else ""
            models.append(_ModelRun(adapter, folder, done_jobs(folder), part_tag=tag,
                                    kept=[] if options.keep_predictions else None))
        summaries = _execute(plan, models, suite, source, options, on_progress)
        for model in models:
            _record_peak_memory(model.run_dir, shard)
        return [dataclasses.replace(summary, batch=batch) for summary in summaries]


def _batch_for(plan: RunPlan, source: DataSource, asked: int) -> BatchChoice:
    """The batch that keeps a chunk of the plan's clips in memory (:mod:`avsprobe.memory_guard`), judged on
    its first clip's frames (a data set's clips share a frame size)."""
    if not plan.sample_ids:
        return BatchChoice(asked, asked, 0, None)
    try:
        frames = source.reader.read(plan.sample_ids[0]).frames  # type: ignore[attr-defined]
    except DataError:  # the clip fails on its own later, with its reason
        return BatchChoice(asked, asked, 0, None)
    # through the module: what the memory is, is read at the call (a test sets it there)
    return choose_batch(asked, int(np.prod(frames.shape[:3])), memory_guard.available_memory_bytes())


def _record_peak_memory(run_dir: Path, shard: tuple[int, int] | None) -> None:
    """Add this process's peak resident memory to ``run.json`` (per shard for sharded runs)."""
    with _run_json_lock(run_dir):
        info = read_run_info(run_dir)
        if shard is None:
            info["peak_rss_mb"] = peak_rss_mb()
        else:
            info.setdefault("peak_rss_mb_by_shard", {})[f"{shard[0]}/{shard[1]}"] = peak_rss_mb()
        atomic_write_text(run_dir / "run.json", json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")


def _shard_of(plan: RunPlan, job: Job, shard: tuple[int, int] | None) -> bool:
    """Whether ``job`` belongs to ``shard`` ``(i, n)``: clips are dealt round-robin by their position in the
    split, so every job of a clip lands in one shard and any number of shards covers the plan once."""
    return shard is None or plan.sample_position[job.sample_id] % shard[1] == shard[0]


@dataclass
class _Chunk:
    """A chunk of jobs ready for the models: rows of the jobs that did not probe, per model, and per model
    the prepared calls of the jobs that did."""

    jobs: int
    early_rows: list[list[dict[str, Any]]]
    calls: list[list[_Call]]


def _in_background(iterator: Iterator[Any], depth: int) -> Iterator[Any]:
    """The items of ``iterator`` computed in a thread, at most ``depth`` ahead (errors re-raised here)."""
    done, failure = object(), []
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the consumer
            failure.append(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's cleanup (the worker pool) runs in its own thread
            items.put(done)

    thread = threading.Thread(target=produce, name="avsprobe-prepare", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                items.get(timeout=0.1)
            except Exception:  # noqa: BLE001 - queue.Empty: keep waiting for the thread
                pass


def _execute(plan: RunPlan, models: list[_ModelRun], suite: ProbeSuite, source: DataSource, options: RunOptions,
             on_progress: Callable[[int, int], None] | None) -> list[RunSummary]:
    """With probe workers, the stages overlap: worker processes read and probe (``pipeline``), a thread
    builds each chunk's model calls, this thread predicts, and a second thread scores and writes, in chunk
    order. Without, this thread does each chunk's stages in turn. ``options`` as :func:`run_models` resolved
    them (``workers`` and ``threads`` set)."""
    batch_size, device, shard, workers = options.batch_size, options.device, options.shard, options.workers or 0

    mine = [(i, job) for i, job in plan.jobs if _shard_of(plan, job, shard)]
    todo = [(i, job) for i, job in mine if any(m.needs(job) for m in models)]
    finished = len(mine) - len(todo)
    resumed = [sum(1 for _, job in mine if not m.needs(job)) for m in models]
    if on_progress:
        on_progress(finished, len(mine))
    jobs = dict(todo)
    chunks = [[i for i, _ in todo[start : start + batch_size]] for start in range(0, len(todo), batch_size)]

    def prepared() -> Iterator[_Chunk]:
        for outcomes in probe_chunks(chunks, jobs, suite, source.reader, workers=workers):
            early: list[list[dict[str, Any]]] = [[] for _ in models]
            items = []
            for outcome in outcomes:
                job = jobs[outcome.index]
                if outcome.status == "ok":
                    items.append((job, outcome.index, outcome, outcome.probed))
                    continue
                for m, model in enumerate(models):
                    if model.needs(job):
                        early[m] += empty_rows(base_row(job, outcome.index, model.adapter.name, outcome),
                                                outcome.status, outcome.reason)
            calls = [_prepare_calls(model.adapter, [it for it in items if model.needs(it[0])], device)
                     for model in models]
            yield _Chunk(len(outcomes), early, calls)

    # Parts hold about flush_jobs jobs: each parquet write costs tens of ms, and a killed run loses at most
    # one part's worth of work.
    flush_every = max(batch_size, options.flush_jobs)
    state = {"since_flush": 0, "finished": finished, "chunks": 0}

    def record(chunk: _Chunk, logits: list[list[Any]]) -> None:
        for m, model in enumerate(models):
            model.add(chunk.early_rows[m])
            for call, out in zip(chunk.calls[m], logits[m], strict=True):
                model.add(_score_call(model.adapter, call, out, model.adapter.name, device, model.kept))
        state["since_flush"] += chunk.jobs
        state["chunks"] += 1
        if state["since_flush"] >= flush_every or state["chunks"] == len(chunks):
            for model in models:
                model.flush()
            state["since_flush"] = 0
        state["finished"] += chunk.jobs
        if on_progress:
            on_progress(state["finished"], len(mine))

    def predicted(chunk: _Chunk) -> list[list[Any]]:
        return [[_predict_call(model.adapter, call) for call in chunk.calls[m]] for m, model in enumerate(models)]

    if workers <= 0:  # one thread does it all: on few cores the stages' threads only compete
        for chunk in prepared():
            record(chunk, predicted(chunk))
    else:
        # Prepared chunks wait in a queue and predicted ones in the scorer's, a few deep, so a stretch of
        # costly chunks (mixes, rescaled frames) on one side does not stall the other.
        with ThreadPoolExecutor(1, thread_name_prefix="avsprobe-score") as scorer:
            scoring: deque = deque()
            for chunk in _in_background(prepared(), depth=_PREPARED_AHEAD):
                logits = predicted(chunk)
                while len(scoring) >= _SCORING_BEHIND:
                    scoring.popleft().result()  # in order, and errors surface here
                scoring.append(scorer.submit(record, chunk, logits))
            while scoring:
                scoring.popleft().result()
    return [RunSummary(m.run_dir, len(mine), m.counts["ok"], m.counts["failed"], m.counts["not_applicable"], r,
                       reasons=tuple((*key, n) for key, n in sorted(m.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
                       kept_bytes=m.kept_bytes)
            for m, r in zip(models, resumed, strict=True)]
