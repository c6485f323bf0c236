"""The records table: one row per (clip, condition, frame), stored as parquet parts in a run folder.

Parts are written atomically (temporary file, then rename) under names no other writer can take (process
id and a clock reading), so an interrupted run leaves only whole parts and several processes can add parts
to one folder; ``load_records`` concatenates them and sorts by job index and frame, so a resumed run gives
the same table as an uninterrupted one, and refuses a folder where one job's frame was recorded twice.

A run folder holds one run: its identity (:data:`IDENTITY_FIELDS`) is in ``run.json``, and a resume that differs
in any of them is refused (:func:`identity_mismatch` says which). While a run writes into a folder it holds an exclusive lock on ``run.lock`` there (``flock``: released by
the operating system when the process ends, however it ends).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.errors import ConfigError, DataError
from avsprobe.fileio import atomic_path
from avsprobe.records import validate

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PARTS_DIR", "LOCK_FILE", "new_part_path", "write_part",
           "read_part", "load_records", "IDENTITY_FIELDS", "identity_mismatch",
           "find_run_folders",
           "done_jobs", "read_run_info", "run_lock"]

PARTS_DIR = "parts"
LOCK_FILE = "run.lock"
_PART_COUNTER = itertools.count()


def new_part_path(run_dir: Path, *, tag: str = "") -> Path:
    """A name for a new part, ``parts/part-{tag}{clock}-{pid}-{n}.parquet``, unique to this write."""
    return run_dir / PARTS_DIR / f"part-{tag}{time.time_ns():x}-{os.getpid()}-{next(_PART_COUNTER)}.parquet"


def write_part(run_dir: Path, rows: list[dict[str, Any]], *, tag: str = "", path: Path | None = None) -> Path:
    """Write rows as a new part (:func:`new_part_path`; ``path``: one it gave), atomically."""
    import pandas as pd

    path = path or new_part_path(run_dir, tag=tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
    return path


IDENTITY_FIELDS = ("records_format", "model_fingerprint", "suite_fingerprint", "data_fingerprint",
                   "data_files_fingerprint", "split", "subset", "torch_threads", "predict_batch")
"""What makes a run folder's run: a resume must match every one (``--limit`` is not among them)."""


def identity_mismatch(previous: dict[str, Any], info: dict[str, Any]) -> str | None:
    """Why a run folder's ``run.json`` (``previous``) is not the run about to start (``info``), or None when
    every :data:`IDENTITY_FIELDS` matches."""
    for key in IDENTITY_FIELDS:
        old, new = previous.get(key), info[key]
        if old != new:
            if key == "records_format":
                return f"it was recorded by an older avsprobe (records format {old or 1}, now {new})"
            if key in ("torch_threads", "predict_batch"):
                return (f"{key} differs: {old!r} there, {new!r} now (a model's float results depend on its threads "
                        "and batch, so records made under other settings cannot be mixed"
                        + ("; this folder predates the setting" if key not in previous else "") + ")")
            show = (lambda v: f"{str(v)[:12]}...") if key.endswith("fingerprint") else repr
            return f"{key} differs: {show(old)} there, {show(new)} now"
    return None


def _part_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / PARTS_DIR).glob("part-*.parquet"))


def read_part(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"cannot read records part {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}; "
                        "delete it and rerun to redo its jobs") from None


def load_records(run_dir: str | Path) -> pd.DataFrame:
    """Every record of a run, sorted by ``job_index`` then ``frame``.

    Raises:
        DataError: a damaged part, or a (job, frame) recorded twice (two runs wrote into one folder).
    """
    import pandas as pd

    files = _part_files(Path(run_dir))
    if not files:
        return pd.DataFrame()
    frame = pd.concat([read_part(f) for f in files], ignore_index=True)
    _normalise_optional(frame)
    _validate(frame, Path(run_dir))
    duplicated = frame.duplicated(["job_index", "frame"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise DataError(f"{run_dir}: {int(duplicated.sum())} records are duplicated (for instance job "
                        f"{first.job_index}, {first.sample_id} {first.condition_id}); two runs wrote into this "
                        "folder. Delete it and run again")
    return frame.sort_values(["job_index", "frame"], kind="stable").reset_index(drop=True)


def _validate(frame: pd.DataFrame, run_dir: Path) -> None:
    """A run's table against the records schema of the format its ``run.json`` says it was written in (parts
    in a folder without ``run.json``, such as a test's hand-written rows, are not a run and are not checked)."""
    info_file = run_dir / "run.json"
    if not info_file.is_file():
        return
    try:
        written = int(json.loads(info_file.read_text()).get("records_format", 1))
    except (OSError, ValueError, AttributeError):
        return  # read_run_info reports a damaged run.json with its own message
    validate(frame, run_dir, written)


OPTIONAL_COUNTS = ("original_intersection", "original_union", "original_area")
"""Per-frame counts only some rows have (``original_*``: where a probe changed the expected mask)."""


SCORED_ONLY = {"tp_at": np.ndarray, "pp_at": np.ndarray, "original_tp_at": np.ndarray, "pred_thumb": bytes}
"""Per-frame threshold curves and thumbnails, by the type they hold: only scored rows have them
(``original_tp_at``: only where a probe changed the expected mask)."""


def _normalise_optional(frame: pd.DataFrame) -> None:
    """One missing-value form for the columns that only some rows have, however the rows were split into
    parts (a part without a column reads back as NaN after concatenation, one with some rows lacking it as
    None): counts as float with NaN, threshold curves and thumbnails as their value or None."""
    import pandas as pd

    for column in OPTIONAL_COUNTS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column, kind in SCORED_ONLY.items():
        if column in frame:
            frame[column] = [v if isinstance(v, kind) else None for v in frame[column]]


def done_jobs(run_dir: Path) -> set[tuple[str, str]]:
    """The jobs already recorded (any status), as ``(sample_id, condition_id)``."""
    done: set[tuple[str, str]] = set()
    for f in _part_files(run_dir):
        part = read_part(f, ["sample_id", "condition_id"])
        done.update(zip(part["sample_id"].tolist(), part["condition_id"].tolist(), strict=True))
    return done


def find_run_folders(path: str | Path) -> list[Path]:
    """``path`` itself if it is a run folder, else every run folder below it (sorted)."""
    p = Path(path)
    if (p / "run.json").is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"{p} is not a run folder or a folder of runs")
    # hidden folders below the one given are skipped; the path given may itself start with ".." or "."
    found = sorted(f.parent for f in p.rglob("run.json")
                   if not any(part.startswith(".") for part in f.relative_to(p).parts))
    if not found:
        raise DataError(f"{p} is not a run folder and holds none (no run.json below it); runs are written by 'avsprobe run'")
    return found


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a run folder.

    Raises:
        DataError: missing or not a JSON object.
    """
    path = Path(run_dir) / "run.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{Path(run_dir)} is not a run folder (no run.json); runs are written by 'avsprobe run'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is damaged ({exc}); delete the run folder and run again") from None
    if not isinstance(info, dict):
        raise DataError(f"{path} is damaged (not a JSON object); delete the run folder and run again")
    return info


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Temporary files a killed writer left (``.name.XXXX.tmp.parquet``): only whole parts count."""
    for folder in (run_dir, run_dir / PARTS_DIR):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp*"):
                tmp.unlink(missing_ok=True)


def _try_lock(fd: int, exclusive: bool) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _other_sharding_running(run_dir: Path, shards: int) -> str | None:
    """The shard lock of another shard count that some process holds (two shardings would overlap)."""
    for path in sorted(run_dir.glob("shard-*-of-*.lock")):
        if path.name.endswith(f"-of-{shards}.lock"):
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            if not _try_lock(fd, exclusive=True):
                return path.name
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return None


@contextlib.contextmanager
def run_lock(run_dir: Path, shard: tuple[int, int] | None = None) -> Iterator[None]:
    """Hold the run folder's lock (creating the folder), then clear stale temporary files (unsharded).

    A whole run holds ``run.lock`` exclusively. Shard ``(i, n)`` holds it shared, so the other shards of
    the same run may write beside it, and ``shard-i-of-n.lock`` exclusively, so no shard runs twice; a
    shard of another count is refused while any shard runs.

    Raises:
        ConfigError: another process holds what this run needs, or the folder cannot be made.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run folder; use another --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fds = [os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)]
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"cannot make the run folder {run_dir}: a file is in the way; use another --out") from None
    busy = (f"another avsprobe process is running in {run_dir}; wait for it to finish (or stop it), then rerun "
            "to resume")
    try:
        if not _try_lock(fds[0], exclusive=shard is None):
            raise ConfigError(busy if shard is None else f"{busy} (an unsharded run holds the folder)")
        if shard is None:
            _remove_stale_temporaries(run_dir)
        else:
            fds.append(os.open(run_dir / f"shard-{shard[0]}-of-{shard[1]}.lock", os.O_RDWR | os.O_CREAT, 0o666))
            if not _try_lock(fds[1], exclusive=True):
                raise ConfigError(f"shard {shard[0]}/{shard[1]} is already running in {run_dir}")
            other = _other_sharding_running(run_dir, shard[1])
            if other:
                raise ConfigError(f"{run_dir} is being run in another number of shards ({other} is held); run "
                                  "with the same --shard count, or wait for those to finish")
        yield
    finally:
        for fd in fds:
            os.close(fd)
