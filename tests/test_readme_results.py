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


def test_the_remedy_summary_says_which_prior_metric_moved_beyond_the_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script()

    def pair(treated: str, low: float, high: float) -> dict:
        cell = {"mean": (low + high) / 2, "ci_low": low, "ci_high": high}
        paired = {m: dict(cell) for m in ("prior_coverage", "silent_object_coverage", "prior_slope", "miou")}
        paired["prior_slope"] = {"mean": 0.0, "ci_low": -0.1, "ci_high": 0.1}
        return {"treated": treated, "control": "c", "paired": paired, "criteria": [{"met": True}, {"met": False}]}

    monkeypatch.setattr(script, "_v3_pairs", lambda: {Path("a.json"): pair("flat", -0.01, 0.02)})
    assert "In no pair does the strategy lower" in script.remedy_summary()
    assert "Raised" not in script.remedy_summary() and "(1 of 2 criteria met)" in script.remedy_summary()
    monkeypatch.setattr(script, "_v3_pairs", lambda: {Path("a.json"): pair("down", -0.05, -0.01),
                                                      Path("b.json"): {**pair("x", 0.0004, 0.1), "treated_label": "up"}})
    text = script.remedy_summary()
    assert "lowered beyond what the seeds allow for: down." in text
    assert "Raised beyond what the seeds allow: up (`prior_coverage`, lower end +0.0004; `silent_object_coverage`" in text
