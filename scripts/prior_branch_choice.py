"""Issue 29: which prior-shaped second branch goes to test, by the rule in ``reports/debias/v3/prior-branch-rule.md``.

Reads the val comparisons ``VAL/prior-branch-val-{candidate}.json`` (``scripts/debias_pair.py --split val --seeds 0 1
2``, each candidate against ``ours-nodebias``) and applies the rule: admissible when the mean paired val mIoU
difference is >= -0.02; chosen, the admissible candidate with the lowest mean paired ``prior_coverage`` difference
(none admissible: the higher mean paired mIoU). Writes ``VAL/prior-branch-choice.md`` and ``.json``.

    python scripts/prior_branch_choice.py --val reports/debias/v3/val
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avsprobe.fileio import atomic_write_text

CANDIDATES = ("official-readout", "ours-prior")
MIOU_LOSS = 0.02


def _admissible(paired: dict[str, dict[str, dict]]) -> list[str]:
    """The candidates whose mean paired val mIoU difference is within the rule's loss."""
    return [c for c in paired if paired[c]["miou"]["mean"] >= -MIOU_LOSS]


def choose(paired: dict[str, dict[str, dict]]) -> tuple[str, bool]:
    """``(chosen candidate, whether it was admissible)`` from each candidate's paired val differences."""
    admissible = _admissible(paired)
    if admissible:
        return min(admissible, key=lambda c: paired[c]["prior_coverage"]["mean"]), True
    return max(paired, key=lambda c: paired[c]["miou"]["mean"]), False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("reports/debias/v3/val"))
    args = parser.parse_args(argv)
    reports = {c: json.loads((args.val / f"prior-branch-val-{c}.json").read_text()) for c in CANDIDATES}
    paired = {c: r["paired"] for c, r in reports.items()}
    chosen, admissible = choose(paired)
    allowed = _admissible(paired)
    rows = []
    for c in CANDIDATES:
        cells = [f"{paired[c][m]['mean']:+.3f} [{paired[c][m]['ci_low']:+.3f}, {paired[c][m]['ci_high']:+.3f}]"
                 for m in ("miou", "prior_coverage", "silent_object_coverage", "prior_slope", "sounding_auroc")]
        rows.append(f"| {c} | " + " | ".join(cells) + f" | {'yes' if c in allowed else 'no'} |")
    only = len(allowed) == 1
    verdict = (f"**Chosen: `{chosen}`** (" + ("the only admissible candidate" if only else
                                             "admissible, the lowest mean paired `prior_coverage`") + ")." if admissible else
               f"**Chosen: `{chosen}`**: no candidate is admissible; the rule takes the higher mean paired val mIoU.")
    lines = ["# Issue 29: the prior-shaped second branch, chosen on val", "",
             "Made by `python scripts/prior_branch_choice.py --val reports/debias/v3/val` from the val comparisons "
             "beside it (`prior-branch-val-*.md`: each candidate minus `ours-nodebias`, seeds 0-2, the `debias` suite "
             "on all 160 val clips), by the rule in `reports/debias/v3/prior-branch-rule.md`, committed before them.",
             "", "Mean paired difference over seeds 0-2 [seed-level 95 % interval]:", "",
             "| candidate | miou | prior_coverage (bed) | silent_object_coverage | prior_slope | sounding_auroc | "
             f"admissible (mIoU >= -{MIOU_LOSS}) |", "|---|---|---|---|---|---|---|", *rows, "", verdict]
    atomic_write_text(args.val / "prior-branch-choice.md", "\n".join(lines) + "\n")
    atomic_write_text(args.val / "prior-branch-choice.json", json.dumps(
        {"candidates": list(CANDIDATES), "chosen": chosen, "admissible": admissible,
         "paired": {c: {m: paired[c][m] for m in ("miou", "prior_coverage")} for c in CANDIDATES}}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
