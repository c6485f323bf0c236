"""The records schema: every column a run writes is declared, with its kind; loading checks a table against it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avsprobe.errors import DataError
from avsprobe.records import SCHEMA, column, validate


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avsprobe.adapters import resolve_model
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.runner import run_suite

    root = tmp_path_factory.mktemp("records")
    build_world(root / "w", clips=24, workers=1)
    for model in ("oracle", "semantic-oracle"):
        # negative (object curves, original_* counts) and swap: every kind of row, in a few jobs
        run_suite(resolve_model(model), ProbeSuite.of(["negative", "swap"]), open_data(root / "w"), root / model,
                  limit=2, workers=0)
    return root


def _check_value(kind: str, value: object) -> None:
    if kind == "json":
        assert isinstance(json.loads(value), (dict, list))
    elif kind == "counts":
        assert isinstance(value, np.ndarray) and value.dtype.kind == "i"
    elif kind == "bytes":
        assert isinstance(value, bytes) and len(value) == 512
    elif kind == "int":
        assert float(value) == int(value)
    elif kind == "bool":
        assert value in (True, False)
    elif kind == "str":
        assert isinstance(value, str)


@pytest.mark.parametrize("model", ["oracle", "semantic-oracle"])
def test_every_written_column_is_declared_with_its_kind(runs: Path, model: str) -> None:
    from avsprobe.results import load_records

    records = load_records(runs / model)
    assert set(records.columns) <= {c.name for c in SCHEMA}
    ok = records[records.status == "ok"]
    for name in records.columns:
        c = column(name)
        rows = ok if c.rows != "every" else records
        values = [v for v in rows[name] if v is not None and not (isinstance(v, float) and np.isnan(v))]
        if c.rows == "negative":  # an empty object elsewhere
            assert set(ok[ok.probe != "negative"][name]) <= {"{}"}
        assert values, name
        for value in values[:50]:
            _check_value(c.kind, value)


def test_loading_names_the_folder_and_the_missing_column(runs: Path, tmp_path: Path) -> None:
    import shutil

    from avsprobe.results import load_records

    damaged = tmp_path / "damaged"
    shutil.copytree(runs / "oracle", damaged)
    for part in (damaged / "parts").glob("*.parquet"):
        pd.read_parquet(part).drop(columns="iou").to_parquet(part, index=False)
    with pytest.raises(DataError, match=f"{damaged}.*no column 'iou'"):
        load_records(damaged)


def test_an_older_format_needs_only_its_own_columns() -> None:
    row = {c.name: (0 if c.kind in ("int", "float") else "" if c.kind in ("str", "json") else False)
           for c in SCHEMA if c.rows in ("every", "scored") and c.since <= 3}
    row["status"] = "ok"
    frame = pd.DataFrame([row])
    validate(frame, "old", records_format=3)  # format 3 had no object_score
    with pytest.raises(DataError, match="object_score"):
        validate(frame, "new", records_format=4)
    frame["iou"] = frame["iou"].astype(str)
    with pytest.raises(DataError, match="column 'iou' holds .*, not float"):
        validate(frame, "typed", records_format=3)
