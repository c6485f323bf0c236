"""The README's result sentences are the committed reports' numbers: its marked blocks equal what
``scripts/readme_results.py`` generates from ``reports/biaslab/report.json`` and ``reports/debias/seeds.md``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("readme_results", ROOT / "scripts" / "readme_results.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("name", ["demo-results", "debias-results", "bias-metrics"])
def test_readme_block_is_generated_from_the_report(name: str) -> None:
    script = _script()
    readme = (ROOT / "README.md").read_text()
    block = readme.split(f"<!-- {name}:start -->\n", 1)[1].split(f"\n<!-- {name}:end -->", 1)[0]
    assert block == script.BLOCKS[name]()


def test_a_changed_number_is_caught(tmp_path: Path) -> None:
    script = _script()
    readme = (ROOT / "README.md").read_text()
    generated = script.BLOCKS["demo-results"]()
    first_number = next(w for w in generated.split() if w[:1].isdigit())
    tampered = readme.replace(generated, generated.replace(first_number, "9.99", 1))
    assert tampered != readme
    assert script.replace_block(tampered, "demo-results", generated) == readme
