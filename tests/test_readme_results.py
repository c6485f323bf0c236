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


def _blocks() -> list[tuple[str, str]]:
    """(document, block) for every generated block in the README and the docs pages."""
    script = _script()
    return [(str(path.relative_to(ROOT)), name) for path in script.documents() for name in script.BLOCKS
            if f"<!-- {name}:start -->" in path.read_text()]


def test_every_block_is_in_some_document() -> None:
    assert {name for _, name in _blocks()} == set(_script().BLOCKS)


@pytest.mark.parametrize(("document", "name"), _blocks())
def test_block_is_generated_from_its_source(document: str, name: str) -> None:
    text = (ROOT / document).read_text()
    block = text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"\n<!-- {name}:end -->", 1)[0]
    assert block == _script().BLOCKS[name]()


def test_a_changed_number_is_caught(tmp_path: Path) -> None:
    script = _script()
    readme = (ROOT / "README.md").read_text()
    generated = script.BLOCKS["demo-results"]()
    first_number = next(w for w in generated.split() if w[:1].isdigit())
    tampered = readme.replace(generated, generated.replace(first_number, "9.99", 1))
    assert tampered != readme
    assert script.replace_block(tampered, "demo-results", generated) == readme
