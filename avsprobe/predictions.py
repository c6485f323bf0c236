"""Kept predictions: what a run keeps of every scored model call, so that ``avsprobe rescore`` can recompute
its records without the model.

Every records column is a function of the float32 foreground probability at the expected mask's
resolution through a fixed set of comparisons (the 255 F-score thresholds ``p >= tau_k``, the records' rule
``p > 0.5`` and the object thresholds ``p > 0.02 ... 0.98``), except each object's mean probability. So a run
keeps, per frame, each pixel's **level**: how many of those comparisons it passes (``uint16``, 0 ... 304),
which loses nothing any threshold count needs; plus each object's mean probability (float64), the adapter's
frame notes (``phi_marks``) and, for semantic models, the argmax class map. Restoring a level gives the
smallest float32 probability with that level, so records recomputed from kept predictions equal the run's bit
for bit. A metric that needs a threshold off this grid, or the probabilities themselves, needs the model.

Storage: ``predictions/{part}.npz`` beside each records part ``parts/{part}.parquet`` (maps as bz2-compressed
byte planes, 1.2-1.4 kB a 128 x 128 frame of the bias lab's reference models; written before the part, so a
part on disk always has its predictions).
"""

from __future__ import annotations

import bz2
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.errors import DataError
from avsprobe.fileio import atomic_path
from avsprobe.metrics.binary import OBJECT_THRESHOLDS, f_thresholds

if TYPE_CHECKING:
    import torch

__all__ = ["PREDICTIONS_DIR", "PREDICTIONS_FORMAT", "KeptPrediction", "probability_levels", "level_probabilities",
           "write_predictions", "read_predictions", "predictions_path", "kept_bytes", "notes_of"]

PREDICTIONS_DIR = "predictions"
PREDICTIONS_FORMAT = 1
"""The kept-predictions format runs write (``run.json``'s ``predictions_format``)."""


@dataclass
class KeptPrediction:
    """What one scored job keeps.

    Attributes:
        job_index: the job's number (the records' ``job_index``).
        levels: ``uint16 [T, H, W]``: each pixel's level (:func:`probability_levels`).
        object_mean: ``float64 [T, O]``: each object's mean probability (objects by sorted name; NaN where
            absent).
        notes: per frame, the adapter's notes (``phi_marks``) as a JSON object text; empty for none.
        classes: ``uint8 [T, H, W]``: a semantic model's argmax class per pixel; None for binary models.
    """

    job_index: int
    levels: np.ndarray
    object_mean: np.ndarray
    notes: list[str]
    classes: np.ndarray | None = None


@functools.lru_cache(maxsize=1)
def _cuts() -> tuple[np.ndarray, np.ndarray]:
    """The comparisons a level counts: ``(f_thresholds float32 [255], strict float32 [G])`` with ``p >= f``
    for the first and ``p > g`` for the second (0.5 and the object thresholds, 0.5 once)."""
    strict = np.unique(np.asarray((0.5, *OBJECT_THRESHOLDS), dtype=np.float32))
    return f_thresholds().numpy(), strict


def probability_levels(probability: torch.Tensor) -> np.ndarray:
    """``uint16``, same shape: the number of the comparisons of the module docstring that each float32
    probability passes. Both counts are non-decreasing in ``p``, so their sum orders pixels as ``p`` does
    and fixes each of them (:func:`level_probabilities` inverts it)."""
    import torch

    if probability.dtype != torch.float32:
        raise ValueError(f"probabilities must be float32, got {probability.dtype}")
    f_cuts, strict = _cuts()
    p = probability.detach().cpu().contiguous()
    at_or_above = torch.searchsorted(torch.from_numpy(f_cuts), p, right=True)
    above = torch.searchsorted(torch.from_numpy(strict), p, right=False)
    return (at_or_above + above).numpy().astype(np.uint16)


@functools.lru_cache(maxsize=1)
def _level_table() -> np.ndarray:
    """``float32 [L]``: for each level, the smallest probability that has it (NaN for a level none has)."""
    import torch

    f_cuts, strict = _cuts()
    # every interval of equal level starts at 0, at an F threshold or just above a strict one
    starts = np.unique(np.concatenate([[0.0], f_cuts, np.nextafter(strict, np.float32(2))]).astype(np.float32))
    levels = probability_levels(torch.from_numpy(starts))
    table = np.full(len(f_cuts) + len(strict) + 1, np.nan, dtype=np.float32)
    for level, value in zip(levels[::-1], starts[::-1], strict=True):
        table[level] = value  # the smallest start of a level wins
    return table


def level_probabilities(levels: np.ndarray) -> torch.Tensor:
    """``float32``, same shape: the smallest probability of each level, which passes exactly the comparisons
    the kept pixel passed."""
    import torch

    table = _level_table()
    values = table[np.asarray(levels, dtype=np.intp)]
    if np.isnan(values).any():
        raise ValueError("levels outside the kept-prediction grid")
    return torch.from_numpy(values)


def predictions_path(part: Path) -> Path:
    """The kept predictions of records part ``part`` (``parts/X.parquet`` -> ``predictions/X.npz``)."""
    return part.parent.parent / PREDICTIONS_DIR / f"{part.stem}.npz"


def _pack(array: np.ndarray) -> np.ndarray:
    """A ``uint8`` or ``uint16`` map as its bz2-compressed byte planes, low byte first (``uint8 [n]``); a level
    map's high plane is nearly constant, and split planes compress to about a third of what deflate makes of
    the ``uint16`` values."""
    planes = [array.astype(np.uint8)] if array.dtype == np.uint8 else [(array & 0xFF).astype(np.uint8),
                                                                        (array >> 8).astype(np.uint8)]
    blobs = [bz2.compress(np.ascontiguousarray(p).tobytes(), 9) for p in planes]
    header = np.asarray([len(b) for b in blobs], dtype=np.int64).tobytes()
    return np.frombuffer(np.int64(len(blobs)).tobytes() + header + b"".join(blobs), dtype=np.uint8)


def _unpack(packed: np.ndarray, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """The inverse of :func:`_pack`."""
    data = packed.tobytes()
    count = int(np.frombuffer(data[:8], dtype=np.int64)[0])
    sizes = np.frombuffer(data[8 : 8 + 8 * count], dtype=np.int64).tolist()
    offset, planes = 8 + 8 * count, []
    for size in sizes:
        planes.append(np.frombuffer(bz2.decompress(data[offset : offset + size]), dtype=np.uint8).reshape(shape))
        offset += size
    out = planes[0].astype(dtype)
    if len(planes) > 1:
        out |= planes[1].astype(dtype) << 8
    return out


def write_predictions(path: Path, kept: Iterable[KeptPrediction]) -> int:
    """Write ``kept`` to ``path`` atomically; returns the file's size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    indices = []
    for item in kept:
        j = item.job_index
        indices.append(j)
        arrays[f"shape_{j}"] = np.asarray(item.levels.shape, dtype=np.int64)
        arrays[f"levels_{j}"] = _pack(np.asarray(item.levels, dtype=np.uint16))
        arrays[f"mean_{j}"] = np.asarray(item.object_mean, dtype=np.float64)
        arrays[f"notes_{j}"] = np.frombuffer(json.dumps(item.notes).encode(), dtype=np.uint8)
        if item.classes is not None:
            arrays[f"classes_{j}"] = _pack(item.classes)
            arrays[f"classes_dtype_{j}"] = np.asarray(item.classes.dtype.itemsize, dtype=np.int64)
    arrays["job_index"] = np.asarray(indices, dtype=np.int64)
    arrays["format"] = np.asarray(PREDICTIONS_FORMAT, dtype=np.int64)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return path.stat().st_size


def read_predictions(path: Path) -> dict[int, KeptPrediction]:
    """The kept predictions in ``path``, by job index.

    Raises:
        DataError: the file is missing or damaged, naming it.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != PREDICTIONS_FORMAT:
                raise DataError(f"{path}: kept-predictions format {int(data['format'])}, this avsprobe reads "
                                f"{PREDICTIONS_FORMAT}")
            out = {}
            for j in data["job_index"].tolist():
                shape = tuple(data[f"shape_{j}"].tolist())
                notes = json.loads(bytes(data[f"notes_{j}"]).decode())
                classes = None
                if f"classes_{j}" in data.files:
                    kind = np.uint8 if int(data[f"classes_dtype_{j}"]) == 1 else np.uint16
                    classes = _unpack(data[f"classes_{j}"], shape, kind)
                out[j] = KeptPrediction(j, _unpack(data[f"levels_{j}"], shape, np.uint16), data[f"mean_{j}"], notes,
                                        classes)
            return out
    except FileNotFoundError:
        raise DataError(f"{path} is missing: this run did not keep its predictions (run it again with "
                        "--keep-predictions)") from None
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DataError(f"cannot read kept predictions {path}: {exc}; delete the run folder's part and rerun "
                        "to redo its jobs") from None


def kept_bytes(run_dir: str | Path) -> int:
    """Bytes the run folder's kept predictions take."""
    folder = Path(run_dir) / PREDICTIONS_DIR
    return sum(f.stat().st_size for f in folder.glob("*.npz")) if folder.is_dir() else 0


def notes_of(extra: list[dict[str, Any]]) -> list[str]:
    """The per-frame notes (JSON object texts) to keep from a clip's extra row fields."""
    return [json.dumps(fields) for fields in extra]
