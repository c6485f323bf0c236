"""Re-scoring a run from its kept predictions, without the model (``avsprobe rescore``).

The run's clips are probed again (the probes are seeded per clip and condition, so they give the run's
inputs and expected masks), each scored job's prediction is restored from ``predictions/``
(:mod:`avsprobe.predictions`) and scored by today's scoring code; jobs that failed or did not apply keep
their rows. Each records part is rewritten in place, atomically, with its rows in their order, so with
unchanged scoring code every part comes back byte for byte, and after a scoring fix the folder holds what a
fresh run would write. A rescore that stops part-way leaves whole parts, old or new; running it again
finishes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.data.fingerprint import data_fingerprint
from avsprobe.data.source import open_data
from avsprobe.errors import ConfigError, DataError
from avsprobe.fileio import atomic_path, atomic_write_text
from avsprobe.pipeline import probe_chunks
from avsprobe.predictions import KeptPrediction, level_probabilities, predictions_path, read_predictions
from avsprobe.probes.suite import ProbeSuite
from avsprobe.records import RECORDS_FORMAT
from avsprobe.results import PARTS_DIR, find_run_folders, read_part, read_run_info, run_lock
from avsprobe.runner import plan_jobs
from avsprobe.scoring import BASE_FIELDS, base_row, empty_rows, probability_rows
from avsprobe.semantic_scoring import semantic_fields

if TYPE_CHECKING:
    from avsprobe.pipeline import ProbeOutcome

__all__ = ["RescoreSummary", "rescore_run", "runs_under"]

@dataclass(frozen=True)
class RescoreSummary:
    """What a rescore did: ``jobs`` rescored over ``parts`` records parts, of which ``changed`` now differ."""

    run_dir: Path
    jobs: int
    parts: int
    changed: int


def rescore_run(run_dir: str | Path, *, workers: int = 0,
                on_progress: Callable[[int, int], None] | None = None) -> RescoreSummary:
    """Recompute the records of ``run_dir`` from its kept predictions (see the module docstring).

    ``workers``: processes that probe ahead (0: in this process). ``on_progress`` counts parts.

    Raises:
        DataError: the run kept no predictions, a part's predictions are missing or do not match its
            records, or the data or suite changed since the run (naming what).
    """
    run_dir = Path(run_dir)
    info = read_run_info(run_dir)
    if "predictions_format" not in info:
        raise DataError(f"{run_dir}: this run did not keep its predictions; rescoring needs a run made with "
                        "--keep-predictions (the default)")
    source = open_data(info["data_root"], split=info.get("split") or "test", subset=info.get("subset") or None)
    if data_fingerprint(source.data_root or source.root) != info.get("data_fingerprint"):
        raise DataError(f"{run_dir}: the data at {info['data_root']} changed since the run; its clips cannot be "
                        "probed again as they were")
    suite = ProbeSuite.from_dict(info["suite"])
    if suite.fingerprint() != info.get("suite_fingerprint"):
        raise DataError(f"{run_dir}: its suite no longer builds as it did (suite fingerprint differs)")
    jobs_by_index = dict(plan_jobs(suite, source, info.get("limit")).jobs)
    classes = tuple(info.get("model_classes") or ())
    parts = sorted((run_dir / PARTS_DIR).glob("part-*.parquet"))
    jobs = changed = 0
    with run_lock(run_dir):
        for n, part in enumerate(parts):
            done, differs = _rescore_part(part, jobs_by_index, suite, source.reader, classes, workers)
            jobs, changed = jobs + done, changed + differs
            if on_progress:
                on_progress(n + 1, len(parts))
        if info.get("records_format") != RECORDS_FORMAT:
            info["records_format"] = RECORDS_FORMAT
            atomic_write_text(run_dir / "run.json", json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")
    return RescoreSummary(run_dir, jobs, len(parts), changed)


def _rescore_part(part: Path, jobs: dict[int, Any], suite: Any, reader: Any, classes: tuple[str, ...],
                  workers: int) -> tuple[int, bool]:
    """Rewrite one records part from its kept predictions; returns (jobs rescored, whether the part changed)."""
    import pandas as pd

    old = read_part(part)
    kept = read_predictions(predictions_path(part))
    scored = sorted(set(old.loc[old["status"] == "ok", "job_index"].tolist()))
    if scored != sorted(kept):
        raise DataError(f"{predictions_path(part)} does not match its records part {part.name} (jobs "
                        f"{sorted(set(scored) ^ set(kept))[:5]} differ); the folder is damaged: run it again")
    missing = [j for j in scored if j not in jobs]
    if missing:
        raise DataError(f"{part}: job {missing[0]} is not in the run's plan any more; the data or suite changed")
    model = str(old["model"].iloc[0])
    outcomes = [o for chunk in probe_chunks([scored], jobs, suite, reader, workers=workers) for o in chunk]
    rows = _scored_rows(outcomes, jobs, kept, model, classes)
    new_rows = []
    for record in old.to_dict("records"):
        key = (int(record["job_index"]), int(record["frame"]))
        if record["status"] == "ok":
            new_rows.append(rows[key])
        else:
            base = {f: _plain(record[f]) for f in BASE_FIELDS}
            new_rows.extend(empty_rows(base, str(record["status"]), str(record["reason"])))
    before = hashlib.sha256(part.read_bytes()).digest()
    with atomic_path(part) as tmp:
        pd.DataFrame(new_rows).to_parquet(tmp, index=False)
    return len(scored), hashlib.sha256(part.read_bytes()).digest() != before


def _scored_rows(outcomes: list[ProbeOutcome], jobs: dict[int, Any], kept: dict[int, KeptPrediction], model: str,
                 classes: tuple[str, ...]) -> dict[tuple[int, int], dict[str, Any]]:
    """The rows of the scored jobs, by (job, frame), scored in groups of one frame shape."""
    import torch

    groups: dict[tuple[int, ...], list[ProbeOutcome]] = {}
    for outcome in outcomes:
        if outcome.status != "ok":
            raise DataError(f"job {outcome.index} ({jobs[outcome.index].sample_id}) no longer probes: "
                            f"{outcome.reason}; the data changed since the run")
        groups.setdefault(tuple(outcome.probed.expected_mask.shape), []).append(outcome)
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for group in groups.values():
        bases, extra, probability, means = [], [], [], []
        for outcome in group:
            item = kept[outcome.index]
            bases.append(base_row(jobs[outcome.index], outcome.index, model, outcome))
            notes = [json.loads(text) for text in item.notes]
            if item.classes is not None:
                _, fields = semantic_fields(outcome.probed, torch.from_numpy(item.classes.astype(np.int64)), classes)
                notes = [{**note, **f} for note, f in zip(notes, fields, strict=True)]
            extra.append(notes)
            probability.append(level_probabilities(item.levels))
            means.append(item.object_mean)
        group_rows, _ = probability_rows(bases, [o.probed for o in group], torch.stack(probability), extra, means)
        rows.update({(r["job_index"], r["frame"]): r for r in group_rows})
    return rows


def _plain(value: Any) -> Any:
    """A value read back from parquet as the Python type the runner wrote (numpy scalars -> int, float, bool)."""
    return value.item() if isinstance(value, np.generic) else value


def runs_under(paths: list[Path]) -> list[Path]:
    """The run folders at or below ``paths`` (:func:`avsprobe.results.find_run_folders`), in order, each once.

    Raises:
        ConfigError: a path that does not exist or holds no run.
    """
    found: list[Path] = []
    for path in paths:
        try:
            runs = find_run_folders(path)
        except DataError:
            raise ConfigError(f"{path} holds no run (no run.json at or below it)") from None
        found += [r for r in runs if r not in found]
    return found
