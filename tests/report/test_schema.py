"""``report.json`` carries ``schema_version`` and follows the JSON Schema shipped in the package; the schema
catches a report that does not (every report the suite writes is also checked, by ``tests/conftest.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import validate_report

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_demo_report_follows_the_schema_and_a_broken_one_does_not() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from avsprobe.report.build import REPORT_SCHEMA_VERSION

    content = json.loads((REPO / "reports" / "biaslab" / "report.json").read_text())
    assert content["schema_version"] == REPORT_SCHEMA_VERSION == 1
    validate_report(content)
    broken = json.loads(json.dumps(content))
    broken["runs"][0]["metrics"]["miou"]["n_clips"] = "200"  # a count as text
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'integer'"):
        validate_report(broken)
    unknown = {**content, "schema_version": 2}
    with pytest.raises(jsonschema.ValidationError):
        validate_report(unknown)


def test_the_schema_ships_in_the_package() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.json" in config["avsprobe.report"] and (REPO / "avsprobe" / "report" / "report.schema.json").is_file()
