"""Fixtures shared across the test packages."""

from __future__ import annotations

from pathlib import Path

import pytest


def built_world(factory: pytest.TempPathFactory, name: str, clips: int) -> Path:
    """A small bias-lab world of ``clips`` clips in its own temporary folder (seeded: the same every time)."""
    from avsprobe.data.biaslab.world import build_world

    root = factory.mktemp(name) / "w"
    build_world(root, clips=clips, workers=2)
    return root


@pytest.fixture(scope="session")
def world30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 30-clip world (``built_world``), shared by the modules that need no world of their own."""
    return built_world(tmp_path_factory, "world30", 30)


REPORTS_VALIDATED: list[Path] = []
"""Every report.json the test session wrote, validated against the shipped JSON Schema as it was written."""


@pytest.fixture(autouse=True)
def _every_report_json_follows_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrap ``build_report``: a ``report.json`` any test writes (through the library or the CLI) is validated
    against ``avsprobe/report/report.schema.json``."""
    import json

    import avsprobe.report.build as build

    original = build.build_report

    def checked(run_dirs, out_dir, *args, **kwargs):  # noqa: ANN001, ANN202
        content = original(run_dirs, out_dir, *args, **kwargs)
        written = Path(out_dir) / "report.json"
        if written.is_file():
            validate_report(json.loads(written.read_text()))
            REPORTS_VALIDATED.append(written)
        return content

    monkeypatch.setattr(build, "build_report", checked)


def validate_report(content: dict) -> None:
    """``content`` against the shipped schema (jsonschema, a dev dependency)."""
    import json

    jsonschema = pytest.importorskip("jsonschema")
    schema_file = Path(__file__).resolve().parents[1] / "avsprobe" / "report" / "report.schema.json"
    jsonschema.validate(content, json.loads(schema_file.read_text()))
