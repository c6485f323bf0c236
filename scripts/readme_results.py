"""The README's result sentences, generated from the committed reports (never typed by hand).

Three blocks of README.md are written here and checked by ``tests/test_readme_results.py``:

* ``demo-results``: what the demo report (``reports/biaslab/report.json``) shows, per reference model;
* ``debias-results``: the three-seed comparison (``reports/debias/seeds.md``: its table and goal lines);
* ``bias-metrics``: the metric table, from the bias-metric catalog (``avsprobe.metrics.catalog``).

    python scripts/readme_results.py          # rewrite both blocks from the reports
    python scripts/readme_results.py --check  # exit 1 if the README's blocks differ from the reports
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("vanilla", "ours-nodebias", "ours")


def _value(run: dict, *path: str) -> float:
    node = run
    for key in path:
        node = node[key]
    return float(node["value"])


def demo_block(report: dict) -> str:
    """Sentences on audio priming and the visual prior, for the reference models of the demo report."""
    runs = {r["model"]: r for r in report["runs"] if r["model"] in MODELS}
    clips = runs["vanilla"]["clips_evaluated"]

    def drop(model: str, quiet: str) -> float:
        levels = runs[model]["groups"]["miou_by_level"]
        return float(levels["-23LUFS"]["value"] - levels[quiet]["value"])

    levels = [v for m in MODELS for k, v in runs[m]["groups"]["miou_by_level"].items() if k.endswith("LUFS")]
    half_width = sum((v["ci_high"] - v["ci_low"]) / 2 for v in levels) / len(levels)
    full = ", ".join(f"{m} {drop(m, '-53LUFS'):.2f}" for m in MODELS)
    mid = ", ".join(f"{m} {drop(m, '-41LUFS'):.2f}" for m in MODELS)
    prior = ", ".join(f"{m} {_value(runs[m], 'metrics', 'prior_coverage'):.3f}" for m in MODELS)
    corr = ", ".join(f"{m} {_value(runs[m], 'metrics', 'prior_corr'):.2f}" for m in MODELS)
    silent = ", ".join(f"{m} {_value(runs[m], 'metrics', 'silent_object_coverage'):.3f}" for m in MODELS)
    return "\n".join([
        f"*Audio priming:* on the demo's {clips} clips the mIoU lost from -23 to -53 LUFS is {full}; from -23 to "
        f"-41 LUFS it is {mid}. A level's mIoU has a 95 % interval of about +-{half_width:.2f} (mean half-width "
        f"over these models and levels).",
        "",
        f"*Visual prior:* the mean coverage of the visible objects under digital silence (`prior_coverage`) is "
        f"{prior}; the Spearman correlation of the per-class coverage under negative audio with the training "
        f"sounding frequency (`prior_corr`) is {corr}; the coverage of visible objects that do not sound under "
        f"the original audio (`silent_object_coverage`) is {silent}.",
    ])


def debias_block(seeds_md: str, seeds: dict | None = None) -> str:
    """The seed table and the goal lines of ``seeds.md``, verbatim, then what the paired differences say
    (``seeds.json``): the metrics ``ours`` lowers or raises in every seed (95 % interval off zero)."""
    lines = seeds_md.splitlines()
    table = [line for line in lines if line.startswith("| model |") or line.startswith("|---")
             or any(line.startswith(f"| {family} |") for family in MODELS)]
    goals = [line for line in lines if line.startswith("- ") and ("seed 0:" in line)]
    out = [*table[: 2 + len(MODELS)], "", *goals]
    if seeds is not None:
        paired = seeds["paired"]
        lower = [m for m, rows in paired.items() if all(r["ci_high"] < 0 for r in rows)]
        higher = [m for m, rows in paired.items() if all(r["ci_low"] > 0 for r in rows)]
        mixed = [m for m in paired if m not in lower and m not in higher]
        held = [goal for goal, oks in seeds["goals"].items() if all(oks)]
        out += ["", f"Paired with vanilla of the same seed, `ours` is lower in every seed (95 % interval below 0) on "
                    f"{', '.join(f'`{m}`' for m in lower) or 'no metric'}; higher in every seed on "
                    f"{', '.join(f'`{m}`' for m in higher) or 'no metric'}; and neither consistently on "
                    f"{', '.join(f'`{m}`' for m in mixed) or 'no metric'}. Goals holding in every seed: "
                    f"{', '.join(held) or 'none'}."]
        ablation_table = [line for line in lines[lines.index("## Seed-0 ablations"):] if line.startswith("|")]
        out += ["", "Seed-0 ablations on the same clips (each run's per-clip mean):", "", *ablation_table]
        main = seeds["ablations"].get("ablation: ours main branch only (alpha 0)")
        if main is not None:
            ours0 = {m: v["seeds"][0] for m, v in seeds["summary"]["ours"].items()}
            out += ["", "Against its own main branch (seed 0, alpha 0, same weights), the contrast changes "
                        + ", ".join(f"`{m}` {main[m]:.3f} -> {ours0[m]:.3f}" for m in
                                    ("prior_coverage", "fpr_silence", "silent_object_coverage", "miou")) + "."]
    return "\n".join(out)


BLOCKS = {
    "demo-results": lambda: demo_block(json.loads((ROOT / "reports/biaslab/report.json").read_text())),
    "debias-results": lambda: debias_block((ROOT / "reports/debias/seeds.md").read_text(),
                                           json.loads((ROOT / "reports/debias/seeds.json").read_text())),
    "bias-metrics": lambda: _catalog_table(),
}


def _catalog_table() -> str:
    from avsprobe.metrics.catalog import markdown_table

    return markdown_table()


def replace_block(readme: str, name: str, text: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{text}\n{end}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--block", choices=list(BLOCKS), action="append", help="only these blocks (default: all)")
    args = parser.parse_args()
    readme = (ROOT / "README.md").read_text()
    updated = readme
    for name in args.block or list(BLOCKS):
        updated = replace_block(updated, name, BLOCKS[name]())
    if args.check:
        if updated != readme:
            print("README.md result blocks differ from the reports; run python scripts/readme_results.py")
            return 1
        return 0
    (ROOT / "README.md").write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
