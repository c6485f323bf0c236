"""The records schema: every column a run writes, its type, which rows carry it and what it means.

A run's records are one row per (clip, condition, frame) (``avsprobe.results`` stores them as parquet parts).
Every row has the job's identity and status; scored rows (``status == "ok"``) add the frame's counts, its
threshold curves, per-object values and a prediction thumbnail. Per-object values are typed lists aligned with
``object_names`` (the clip's objects, sorted; null where an object is absent from the frame), read as
``{name: value}`` per row by :func:`object_values`; ``applied`` is the probe's provenance (what was done to
the clip), JSON text. :func:`validate` checks a loaded table against this schema, naming the run folder and
the column, so a damaged or foreign table fails once, at loading, not as a ``KeyError`` in a metric.

The format versions (``run.json``'s ``records_format``; a resume across versions is refused):

- 2: jobs numbered over every sample of the split;
- 3: ``original_*`` counts where a probe changed the expected mask;
- 4: ``object_score``, ``object_covered_at`` and model notes (``phi_marks``);
- 5: per-object values as typed lists aligned with ``object_names`` (JSON objects keyed by name before), and
  the probe's level flag as the column ``level_reached_ok`` (inside ``applied`` before).

Older folders still load: the columns added since their format are left out of the check, the metrics that
need them are not computed for such runs, and :func:`object_values` and :func:`level_reached` read the JSON
forms of formats 2-4 as they were written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RECORDS_FORMAT", "Column", "SCHEMA", "PER_OBJECT", "column", "validate", "object_values", "level_reached",
           "THUMB", "pack_thumbnail", "unpack_thumbnail"]

RECORDS_FORMAT = 5
"""The version runs write now (see the module docstring)."""


@dataclass(frozen=True)
class Column:
    """One records column.

    Attributes:
        name: the column's name.
        kind: ``int``, ``float``, ``bool``, ``str``, ``json`` (a JSON text), ``counts`` (an int array, one
            value per threshold), ``objects`` (a list aligned with ``object_names``; a JSON object keyed by
            object name before format 5), ``names`` (a list of strings) or ``bytes``.
        rows: which rows carry it: ``every``, ``scored`` (``status == "ok"``), ``changed`` (scored rows whose
            probe changed the expected mask), ``semantic`` (scored rows of semantic models), ``negative``
            (scored rows of the negative probe; ``{}`` elsewhere) or ``notes`` (models that report it).
        meaning: what the value is.
        since: the records format that added it.
    """

    name: str
    kind: str
    rows: str
    meaning: str
    since: int = 2


SCHEMA: tuple[Column, ...] = (
    Column("job_index", "int", "every", "the job's position among the jobs of every sample of the split"),
    Column("model", "str", "every", "the adapter's name"),
    Column("sample_id", "str", "every", "the clip"),
    Column("condition_id", "str", "every", "the probe condition's stable id"),
    Column("probe", "str", "every", "the probe (intensity, semantic, mix, negative, swap, area)"),
    Column("condition_label", "str", "every", "the condition's short label (-23LUFS, silence, original ...)"),
    Column("condition_order", "float", "every", "where the condition sorts on its probe's axis"),
    Column("is_baseline", "bool", "every", "the condition is the clip unchanged"),
    Column("category", "str", "every", "the clip's coarse category"),
    Column("split", "str", "every", "the data split"),
    Column("status", "str", "every", "ok, failed or not_applicable"),
    Column("reason", "str", "every", "why a job failed or did not apply (empty when ok)"),
    Column("frame", "int", "every", "the frame within the clip (-1 for a job that was not scored)"),
    Column("annotated", "bool", "every", "the frame carries ground truth"),
    Column("num_pixels", "int", "scored", "H x W of the expected mask"),
    Column("intersection", "int", "scored", "pixels predicted (sigmoid > 0.5) and expected"),
    Column("union", "int", "scored", "pixels predicted or expected"),
    Column("pred_area", "int", "scored", "pixels predicted"),
    Column("expected_area", "int", "scored", "pixels expected"),
    Column("iou", "float", "scored", "the frame's IoU (strict: an empty frame predicted empty scores 1)"),
    Column("fpr", "float", "scored", "pred_area / num_pixels"),
    Column("tp_at", "counts", "scored", "expected pixels predicted at each of the 255 F-score thresholds"),
    Column("pp_at", "counts", "scored", "pixels predicted at each of the 255 F-score thresholds"),
    Column("object_names", "names", "scored", "the clip's objects, sorted: the order of every per-object list",
           since=5),
    Column("coverage", "objects", "scored", "per object, the fraction of its visible pixels predicted (null where "
           "the object is not in the frame)"),
    Column("object_area", "objects", "scored", "per object, its visible pixels in the frame"),
    Column("object_score", "objects", "scored", "per object, the mean predicted probability over its pixels "
           "(null where absent)", since=4),
    Column("object_covered_at", "objects", "negative", "per object, its pixels with probability above each of "
           "metrics.binary.OBJECT_THRESHOLDS (0.02 ... 0.98)", since=4),
    Column("applied", "json", "scored", "the probe's provenance: what was done to the clip (levels, gains, "
           "sources, object classes, silent objects)"),
    Column("level_reached_ok", "bool", "scored", "false where the probe could not bring the audio to its level "
           "(it would clip); such rows do not count as heard at that level", since=5),
    Column("pred_thumb", "bytes", "scored", "the predicted mask at 64 x 64 (nearest), bit-packed (512 bytes; "
           "unpack_thumbnail)"),
    Column("original_intersection", "float", "changed", "as intersection, against the unprobed clip's mask",
           since=3),
    Column("original_union", "float", "changed", "as union, against the unprobed clip's mask", since=3),
    Column("original_area", "float", "changed", "the unprobed clip's expected pixels", since=3),
    Column("original_tp_at", "counts", "changed", "as tp_at, against the unprobed clip's mask", since=3),
    Column("sem_intersection", "counts", "semantic", "per class, pixels predicted and labelled that class"),
    Column("sem_pred", "counts", "semantic", "per class, pixels predicted that class (argmax)"),
    Column("sem_label", "counts", "semantic", "per class, pixels labelled that class"),
    Column("object_pred_class", "objects", "semantic", "per object, the class index most of its pixels get (-1 "
           "where absent)"),
    Column("phi_marks", "json", "notes", "the classes the perception module Phi marks in the frame (reference "
           "models with active queries)", since=4),
)
"""Every column, in the order runs write them."""

PER_OBJECT = tuple(c.name for c in SCHEMA if c.kind == "objects")
"""The per-object columns (lists aligned with ``object_names``)."""

THUMB = 64
"""Side of the prediction thumbnails the records store (``pred_thumb``: a bit-packed bool [64, 64])."""


def pack_thumbnail(mask: np.ndarray) -> bytes:
    """``bool [THUMB, THUMB]`` -> 512 bytes."""
    return np.packbits(np.asarray(mask, dtype=bool)).tobytes()


def unpack_thumbnail(packed: bytes) -> np.ndarray:
    """512 bytes -> ``bool [THUMB, THUMB]``."""
    return np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[: THUMB * THUMB].astype(bool).reshape(THUMB, THUMB)


_BY_NAME = {c.name: c for c in SCHEMA}
_PANDAS_KINDS = {"int": "iuf", "float": "iuf", "bool": "b", "str": "O", "objects": "O", "names": "O"}
"""numpy dtype kinds a column of each scalar kind may load as (ints read back as float where some rows lack
them; strings and JSON as object)."""


def column(name: str) -> Column:
    """The schema entry of ``name`` (KeyError for a column the schema does not know)."""
    return _BY_NAME[name]


def validate(frame: pd.DataFrame, where: str | Path, records_format: int = RECORDS_FORMAT) -> None:
    """Check a loaded records table: the columns every row must carry (and, where a row is scored, the
    scored ones) are there, with a dtype of their kind; columns added after ``records_format`` are not
    required. Unknown columns are allowed (an adapter's own notes).

    Raises:
        DataError: naming ``where`` and the first column that is missing or of the wrong type.
    """
    if frame.empty:
        return
    scored = bool((frame["status"] == "ok").any()) if "status" in frame else False
    for c in SCHEMA:
        if c.since > records_format or c.rows not in ("every", "scored"):
            continue
        if c.rows == "scored" and not scored:
            continue
        if c.name not in frame:
            raise DataError(f"records in {where} have no column {c.name!r} ({c.meaning}); they were not written by "
                            "this avsprobe's runs or are damaged: delete the folder and run again")
        allowed = _PANDAS_KINDS.get(c.kind)
        if c.kind == "bool" and c.rows == "scored" and frame[c.name].dtype.kind == "O":
            allowed = "O" if all(isinstance(v, (bool, np.bool_)) for v in frame[c.name].dropna()) else allowed
        if allowed is not None and frame[c.name].dtype.kind not in allowed:
            raise DataError(f"records in {where}: column {c.name!r} holds {frame[c.name].dtype}, not {c.kind}")


def object_values(rows: pd.DataFrame, name: str) -> list[dict[str, Any]]:
    """Per row of ``rows``, the per-object column ``name`` as ``{object name: value}`` (None where the object is
    absent; ``{}`` for a row without objects or without the column's values): from the typed lists of format 5,
    or from the JSON text of formats 2-4 (hand-written rows too)."""
    values = rows[name].tolist()
    names = rows["object_names"].tolist() if "object_names" in rows else [None] * len(values)
    return [_object_dict(n, v) for n, v in zip(names, values, strict=True)]


def _object_dict(names: Any, values: Any) -> dict[str, Any]:
    if isinstance(values, str):
        return json.loads(values)
    if values is None or names is None or (isinstance(values, float) and math.isnan(values)):
        return {}
    return {str(n): _plain(v) for n, v in zip(names, values, strict=True)} if len(values) else {}


def _plain(value: Any) -> Any:
    """A value read back from parquet as JSON held it: None for a null, ints and floats as Python's, lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def level_reached(rows: pd.DataFrame) -> list[bool]:
    """Per row: whether the probe brought the audio to its level (``level_reached_ok``; inside ``applied`` before
    format 5, each distinct text parsed once)."""
    if "level_reached_ok" in rows:
        return [True if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)
                for v in rows["level_reached_ok"].tolist()]
    flags = {text: json.loads(text).get("level_reached_ok", True) is not False
             for text in set(rows.applied) if isinstance(text, str)}
    return [flags.get(text, True) if isinstance(text, str) else True for text in rows.applied]
