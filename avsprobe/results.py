"""The records table: one row per (clip, condition, frame), stored as parquet parts in a run folder.

Parts are written atomically (temporary file, then rename), so an interrupted run leaves only whole parts;
``load_records`` concatenates them and sorts by job index and frame, so a resumed run gives the same table
as an uninterrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avsprobe.fileio import atomic_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PARTS_DIR", "write_part", "load_records", "done_jobs", "read_run_info"]

PARTS_DIR = "parts"


def write_part(run_dir: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as the next ``parts/part-NNNNNN.parquet``."""
    import pandas as pd

    parts = run_dir / PARTS_DIR
    parts.mkdir(parents=True, exist_ok=True)
    index = len(list(parts.glob("part-*.parquet")))
    path = parts / f"part-{index:06d}.parquet"
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
    return path


def load_records(run_dir: str | Path) -> pd.DataFrame:
    """Every record of a run, sorted by ``job_index`` then ``frame``."""
    import pandas as pd

    files = sorted((Path(run_dir) / PARTS_DIR).glob("part-*.parquet"))
    if not files:
        return pd.DataFrame()
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame.sort_values(["job_index", "frame"], kind="stable").reset_index(drop=True)


def done_jobs(run_dir: Path) -> set[int]:
    """Job indices already recorded (any status)."""
    import pandas as pd

    done: set[int] = set()
    for f in sorted((run_dir / PARTS_DIR).glob("part-*.parquet")):
        done.update(pd.read_parquet(f, columns=["job_index"])["job_index"].tolist())
    return done


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "run.json").read_text())
