"""Issue 28: how often the perception module Phi marks a class on audio in which nothing sounds, fitted on the
default bias lab's train split as ``avsprobe train`` fits it, without and with ``--phi-negatives``.

For each seed, Phi (supervised) is fitted twice; each is read on held-out negative audio (other draws than
the fit's: 10 clips x 5 s per condition) and on the train frames (exact match of its marks with the clip
labels). Writes ``OUT/negatives.md`` and ``OUT/negatives.json``.

    python scripts/phi_negatives.py --seeds 5 --out reports/phi
"""

from __future__ import annotations

import argparse
import json
import types
from pathlib import Path

import torch

from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.fileio import atomic_write_text
from avsprobe.reference.audio import log_mel_descriptor
from avsprobe.reference.data import load_frames
from avsprobe.reference.perception import Perception
from avsprobe.reference.phi_negatives import NEGATIVE_CONDITIONS, negative_log_mel
from avsprobe.reference.train import TrainSettings, _classes_of, _fit_perception


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("reports/phi"))
    args = parser.parse_args()
    root = ensure_default_world()
    frames = load_frames(root, "train", _classes_of(root), 32, workers=1)
    held_out, kinds = negative_log_mel(5, 10, seed=1000)
    rows = []
    for negatives in (False, True):
        for seed in range(args.seeds):
            model = types.SimpleNamespace(perception=Perception("supervised", len(frames.classes)))
            _fit_perception(model, frames, TrainSettings(seed=seed, phi_negatives=negatives))
            with torch.no_grad():
                marked = model.perception.activity(log_mel_descriptor(held_out)).any(dim=1)
                found = model.perception.activity(log_mel_descriptor(frames.log_mel))
            exact = float((found == frames.presence.bool()).all(dim=1).float().mean())
            rates = {k: float(marked[torch.tensor([x == k for x in kinds])].float().mean()) for k in NEGATIVE_CONDITIONS}
            rows.append({"phi_negatives": negatives, "seed": seed, "marked": rates, "train_exact_match": exact})
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "negatives.json", json.dumps({"world": root.name, "rows": rows}, indent=1) + "\n")
    lines = ["# Phi on audio in which nothing sounds", "",
             f"Share of held-out frames on which Phi marks any class (`python scripts/phi_negatives.py --seeds "
             f"{args.seeds} --out {args.out}`, world `{root.name}`); last column: exact match of its marks with the "
             "train clips' labels.", "",
             "| fit | seed | " + " | ".join(NEGATIVE_CONDITIONS) + " | train exact match |",
             "|---|---|" + "---|" * (len(NEGATIVE_CONDITIONS) + 1)]
    for row in rows:
        fit = "with negatives" if row["phi_negatives"] else "train clips only"
        lines.append(f"| {fit} | {row['seed']} | " + " | ".join(f"{row['marked'][k]:.2f}" for k in NEGATIVE_CONDITIONS)
                     + f" | {row['train_exact_match']:.3f} |")
    fitted = [row for row in rows if row["phi_negatives"]]
    worst = max(max(row["marked"].values()) for row in fitted)
    lines += ["", f"Issue 28's criterion, Phi fitted with negatives marks no class in >= 99 % of the frames of every "
                  f"condition, in every seed: {'met' if worst <= 0.01 else 'NOT met'} (highest mark rate "
                  f"{worst:.3f})."]
    atomic_write_text(args.out / "negatives.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
