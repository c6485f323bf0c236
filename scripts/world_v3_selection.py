"""Issue 28: the second choice of world v3's ``ambiguous_fraction`` (``reports/worldv3/selection-rule-2.md``):
val ``prior_calibration`` of ``vanilla`` with three training seeds per candidate q, and the rule applied.

Each ``--run Q:SEED:FOLDER`` is a run folder of the ``negative`` suite on the val split of the world built with
``ambiguous_fraction = Q``. Writes ``OUT/selection-2.md`` and ``OUT/selection-2.json``.

    python scripts/world_v3_selection.py --out reports/worldv3 --run 0.30:0:FOLDER ... --command "..."   # see selection-2.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avsprobe.fileio import atomic_write_text
from avsprobe.report.compute import compute_metrics, load_run

THRESHOLD = 0.8
"""A seed passes when its val prior_calibration is at least this (the issue's must-show bound)."""


def _value(v) -> dict:  # noqa: ANN001
    return {"value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "n_clips": v.n_clips}


def choose(by_q: dict[str, dict[int, float]]) -> tuple[str, str]:
    """The rule: the smaller q whose every seed reaches :data:`THRESHOLD`; else q = 0.30 kept."""
    passing = sorted((q for q, seeds in by_q.items() if all(v >= THRESHOLD for v in seeds.values())), key=float)
    if passing:
        return passing[0], f"q = {passing[0]} passes in every seed; it is the smaller passing candidate"
    return "0.30", "no candidate passes in every seed: q = 0.30 is kept, and the criterion is not reached by q"


def _follow_up(rows: list[dict], chosen: str) -> list[str]:
    """What the choice means for the test criterion, from the numbers: the chosen q's test calibration per seed
    (``must-show.json``, measured at q = 0.30) beside its val values, and the val seeds below the threshold."""
    if chosen != "0.30":
        return ["", "q changes: the must-show is to be measured again once on test with five seeds at it, and "
                "what depends on the world regenerated (the rule's last paragraph)."]
    test = json.loads((Path(__file__).resolve().parents[1] / "reports/worldv3/must-show.json").read_text())["per_seed"]
    val = {r["seed"]: r["prior_calibration"]["value"] for r in rows if r["q"] == chosen}
    missed_test = [(int(k), v["prior_calibration"]) for k, v in test.items() if v["prior_calibration"] < THRESHOLD]
    missed_val = [r for r in rows if r["prior_calibration"]["value"] < THRESHOLD]
    out = ["", "**What follows.** q = 0.30 stays the default, so nothing on test is rerun (the rule's item 2)."]
    for seed, value in missed_test:
        if seed in val:
            out.append(f"Seed {seed} missed the criterion on the 200 test clips ({value:.3f}, `must-show.md`) "
                       f"and reaches {val[seed]:.3f} on val.")
    for r in missed_val:
        c = r["prior_calibration"]
        out.append(f"At q = {r['q']}, seed {r['seed']} has {c['value']:.3f} on val (clip-bootstrap interval "
                   f"[{c['ci_low']:.3f}, {c['ci_high']:.3f}]).")
    out.append("A Spearman correlation over the 8 classes moves that much between seeds and between clip sets, so "
               "choosing q between these candidates does not secure the criterion in every seed; the next lever is "
               "the number of clips the per-class coverage rests on (test or train split), not q.")
    return [out[0], "", " ".join(out[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="Q:SEED:FOLDER")
    parser.add_argument("--out", type=Path, default=Path("reports/worldv3"))
    parser.add_argument("--command", action="append", default=[], help="a command that made the runs (repeatable)")
    args = parser.parse_args()
    rows, by_q = [], {}
    for item in args.run:
        q, seed, folder = item.split(":", 2)
        headline = compute_metrics(load_run(folder)).headline
        rows.append({"q": q, "seed": int(seed), "folder": folder,
                     **{k: _value(headline[k]) for k in ("prior_calibration", "prior_coverage", "prior_slope",
                                                         "silent_object_coverage", "sounding_auroc", "miou")}})
        by_q.setdefault(q, {})[int(seed)] = float(headline["prior_calibration"].value)
    chosen, why = choose(by_q)
    payload = {"rule": "reports/worldv3/selection-rule-2.md", "threshold": THRESHOLD, "runs": rows,
               "chosen_q": chosen, "why": why, "commands": args.command}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "selection-2.json", json.dumps(payload, indent=1) + "\n")

    def cell(v: dict) -> str:
        return f"{v['value']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"

    lines = ["# World v3: `ambiguous_fraction` by three seeds on val (the second rule)", "",
             "The rule (`selection-rule-2.md`, committed before these runs): a candidate passes when its val "
             f"`prior_calibration` is >= {THRESHOLD} in each of training seeds 0, 1 and 2; the smaller passing q "
             "is taken; if none passes, q = 0.30 stays.", "", "Made by:", "", "```bash", *args.command, "```", "",
             "| q | seed | prior_calibration | prior_coverage (bed) | prior_slope | silent_object_coverage | "
             "sounding_auroc | mIoU |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['q']} | {r['seed']} | " + " | ".join(cell(r[k]) for k in (
        "prior_calibration", "prior_coverage", "prior_slope", "silent_object_coverage", "sounding_auroc", "miou"))
        + " |" for r in sorted(rows, key=lambda r: (float(r["q"]), r["seed"]))]
    lines += ["", f"**Outcome:** {why}.", *_follow_up(rows, chosen)]
    atomic_write_text(args.out / "selection-2.md", "\n".join(lines) + "\n")
    print((args.out / "selection-2.md").read_text())


if __name__ == "__main__":
    main()
