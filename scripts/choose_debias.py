"""Issue 17: choose the remedy's training loss and inference settings on the bias lab's **val** split.

Every candidate is a seed-0 checkpoint of ``ours`` trained with one loss preset (``paper``, ``official``,
``supervised-bias``, ``poe``), evaluated with each inference setting (the contrast per query or on the
foreground; query 0 kept or muted when Phi marks no class); ``vanilla`` and ``ours-nodebias`` are the
references. All run the ``negative`` suite (its baseline gives the mIoU) on the first ``--clips`` val clips.
The rule, fixed before looking:
among candidates whose val mIoU is at most 2 points below vanilla's, the lowest prior coverage under silence,
then the lowest fpr_silence. The test split is never read here.

    python scripts/choose_debias.py --checkpoints runs/train --clips 60 --out reports/debias/val-choice.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.probes.suite import load_suite
from avsprobe.report.compute import compute_metrics, load_run
from avsprobe.runner import run_models

LOSSES = {"paper": "ours-paper", "official": "ours-official", "supervised-bias": "ours-supbias", "poe": "ours-poe"}
INFERENCE = {"queries": {}, "foreground": {"contrast_on": "foreground"},
             "foreground+mute0": {"contrast_on": "foreground", "mute_unmarked_zeroth": "true"}}
METRICS = ["miou", "prior_coverage", "fpr_silence", "fpr_background", "silent_object_coverage", "fpr_noise"]
MIOU_BUDGET = 0.02


def candidates(root: Path) -> list[tuple[str, str, dict[str, str], dict | None]]:
    """``(label, model, options, settings)`` of every candidate whose checkpoint exists (``settings``: the
    loss and inference options of an ``ours`` candidate)."""
    out: list[tuple[str, str, dict[str, str], dict | None]] = [
        ("vanilla", "vanilla", {"checkpoint": str(root / "vanilla-s0")}, None),
        ("ours-nodebias", "ours-nodebias", {"checkpoint": str(root / "ours-nodebias-s0")}, None),
        ("ours-nodebias+mute0", "ours-nodebias", {"checkpoint": str(root / "ours-nodebias-s0"),
                                                  "mute_unmarked_zeroth": "true"}, None)]
    for loss, folder in LOSSES.items():
        if not (root / f"{folder}-s0" / "model.safetensors").is_file():
            continue
        for name, options in INFERENCE.items():
            if loss == "poe" and name.startswith("foreground"):
                continue  # alpha = 0: the main branch alone, no contrast to place
            out.append((f"ours[{loss}, {name}]", "ours", {"checkpoint": str(root / f"{folder}-s0"), **options},
                        {"loss": loss, "inference": options}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("runs/train"))
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--runs", type=Path, default=Path("runs/val-choice"))
    parser.add_argument("--out", type=Path, default=Path("reports/debias/val-choice.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    chosen = candidates(args.checkpoints.resolve())
    adapters = [resolve_model(model, options) for _, model, options, _ in chosen]
    dirs = [args.runs / label.replace(" ", "").replace(",", "-").replace("[", "_").replace("]", "") for label, *_ in chosen]
    run_models(adapters, load_suite("negative"), open_data(None, split="val"), dirs, limit=args.clips)
    rows = []
    for (label, _, options, settings), folder in zip(chosen, dirs, strict=True):
        metrics = compute_metrics(load_run(folder)).headline
        rows.append({"label": label, "options": {k: v for k, v in options.items() if k != "checkpoint"},
                     "settings": settings, **{k: (metrics[k].value if k in metrics else None) for k in METRICS}})
    vanilla = next(r for r in rows if r["label"] == "vanilla")
    eligible = [r for r in rows if r["label"].startswith("ours[") and r["miou"] >= vanilla["miou"] - MIOU_BUDGET]
    best = min(eligible, key=lambda r: (r["prior_coverage"], r["fpr_silence"])) if eligible else None
    lines = [f"# Choosing the remedy on val ({args.clips} clips, negative suite, seed-0 checkpoints)", "",
             "Rule fixed before looking: among `ours` candidates with val mIoU at most "
             f"{MIOU_BUDGET * 100:.0f} points below vanilla, the lowest prior coverage under silence, then the "
             "lowest fpr_silence. Command: `python scripts/choose_debias.py --clips "
             f"{args.clips}`.", "", "| candidate | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for r in rows:
        cells = ["-" if r[k] is None else f"{r[k]:.3f}" for k in METRICS]
        lines.append(f"| {r['label']}{' **(chosen)**' if r is best else ''} | " + " | ".join(cells) + " |")
    lines += ["", f"Chosen: {best['label'] if best else 'none (no candidate within the mIoU budget)'}.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    args.out.with_suffix(".json").write_text(json.dumps(
        {"rows": rows, "chosen": best, "chosen_settings": best["settings"] if best else None, "clips": args.clips},
        indent=1))
    print("\n".join(lines))
    print(f"{len(rows)} candidates in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
