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
    elif kind == "names":
        assert all(isinstance(v, str) for v in value)
    elif kind == "objects":
        assert isinstance(value, np.ndarray) and value.dtype.kind in "Oifu"


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
        if c.rows == "negative":  # an empty list elsewhere
            assert {len(v) for v in ok[ok.probe != "negative"][name]} <= {0}
        assert values, name
        for value in values[:50]:
            _check_value(c.kind, value)
        if c.kind == "objects":  # one value per object, in object_names' order
            assert all(len(v) in (0, len(n)) for v, n in zip(ok[name], ok.object_names, strict=True))


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
    row = {c.name: (0 if c.kind in ("int", "float") else "" if c.kind in ("str", "json", "objects") else False)
           for c in SCHEMA if c.rows in ("every", "scored") and c.since <= 3}
    row["status"] = "ok"
    frame = pd.DataFrame([row])
    validate(frame, "old", records_format=3)  # format 3 had no object_score
    with pytest.raises(DataError, match="object_score"):
        validate(frame, "new", records_format=4)
    frame["iou"] = frame["iou"].astype(str)
    with pytest.raises(DataError, match="column 'iou' holds .*, not float"):
        validate(frame, "typed", records_format=3)


FIXTURE = Path(__file__).parent / "fixtures" / "records_v4"


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize(("model", "suite", "limit"), [("ours", "paper", 2), ("semantic-oracle", "intensity", 1)])
def test_a_format_4_folder_reads_to_the_metrics_of_a_format_5_run(world30: Path, tmp_path: Path, model: str, suite: str,
                                                                   limit: int) -> None:
    """The committed fixture (``tests/fixtures/make_records_v4.py``: per-object values as JSON text, the level
    flag inside ``applied``) against the same model on the same clips now: every metric and group equal, every
    per-object value equal, the other columns equal."""
    from avsprobe.adapters import resolve_model
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite, load_suite
    from avsprobe.records import PER_OBJECT, level_reached, object_values
    from avsprobe.report.compute import compute_metrics, load_run
    from avsprobe.runner import run_suite

    chosen = load_suite(suite) if suite == "paper" else ProbeSuite.single(suite)
    run_suite(resolve_model(model), chosen, open_data(world30), tmp_path / "new", limit=limit, threads=2)
    old, new = load_run(FIXTURE / model), load_run(tmp_path / "new")
    assert old.info["records_format"] == 4 and new.info["records_format"] == 5
    assert isinstance(old.records.coverage.iloc[0], str) and "level_reached_ok" not in old.records
    a, b = compute_metrics(old), compute_metrics(new)
    assert list(a.headline) == list(b.headline) and len(a.headline) >= 6
    for name, value in a.headline.items():
        for field in ("value", "ci_low", "ci_high", "n_clips"):
            assert _same(getattr(value, field), getattr(b.headline[name], field)), (name, field)
        assert value.by_group.keys() == b.headline[name].by_group.keys()
    for name, groups in a.groups.items():
        for key, value in groups.items():
            assert _same(value.value, b.groups[name][key].value), (name, key)
    for name in PER_OBJECT:
        if name in old.records:
            assert object_values(old.records, name) == object_values(new.records, name), name
    assert level_reached(old.records) == level_reached(new.records)
    common = [c for c in old.records.columns if c not in PER_OBJECT]
    pd.testing.assert_frame_equal(old.records[common], new.records[common])
