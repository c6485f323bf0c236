"""Contract tests over every catalogued bias metric, and the catalog as the one source of what reports show."""

from __future__ import annotations

import pytest

from avsprobe.errors import ConfigError
from avsprobe.metrics import catalog as cat
from avsprobe.metrics.catalog import BiasMetric, catalog

NAMES = [m.name for m in catalog()]


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_complete(name: str) -> None:
    m = cat.get(name)
    assert m.definition and m.unit and m.higher_is_better in (True, False, None)
    assert set(m.probes) <= set(cat.PROBES)
    assert m.family is None or m.family[0] in cat.FAMILIES
    assert m.source == "avsprobe" or "@" in m.source
    assert m.compute is not None or name == "coavs_drop"  # the one metric computed across runs


def test_names_orders_and_table_rows_are_unique() -> None:
    assert len(set(NAMES)) == len(NAMES)
    orders = [m.order for m in catalog()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    rows = [(m.family[0], m.family[1]) for m in catalog() if m.family]
    assert len(set(rows)) == len(rows)


def test_a_second_registration_and_a_bad_entry_are_refused() -> None:
    with pytest.raises(ConfigError, match="registered twice"):
        cat.register(cat.get("miou"))
    with pytest.raises(ConfigError, match="unknown probes"):
        cat.register(BiasMetric("x", "d", True, "u", probes=("nope",)))


def test_reports_read_the_catalog() -> None:
    from avsprobe.report.build import LATEX_FAMILIES
    from avsprobe.report.compute import METRIC_DEFINITIONS

    assert list(METRIC_DEFINITIONS) == NAMES
    in_tables = [n for _, names in LATEX_FAMILIES.values() for n in names]
    assert sorted(in_tables) == sorted(m.name for m in catalog() if m.family)
    assert list(cat.per_clip_metrics()) == [m.name for m in catalog() if m.per_clip is not None]


def test_every_applicable_metric_is_computed_on_a_full_run(tmp_path) -> None:  # noqa: ANN001
    """A paper-suite run of a known-answer model gets a value for every catalogued metric whose probes, output
    and run.json needs it meets (prior_corr: the bias lab records its training frequency)."""
    from avsprobe.adapters import resolve_model
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import load_suite
    from avsprobe.report.compute import compute_metrics, load_run
    from avsprobe.runner import run_suite

    build_world(tmp_path / "w", clips=30, workers=2)
    run_suite(resolve_model("audio-blind-oracle"), load_suite("paper"), open_data(tmp_path / "w"), tmp_path / "r",
              limit=6)
    run = load_run(tmp_path / "r")
    metrics = compute_metrics(run)
    found = set(metrics.headline) | set(metrics.groups) | set(metrics.protocols)
    probes = set(run.records.probe)
    columns = set(run.records.columns)
    expected = {m.name for m in catalog() if m.compute is not None and m.applies(probes, "binary", run.info, columns)}
    assert expected <= found, sorted(expected - found)
