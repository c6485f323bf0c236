"""Finish the bundled checkpoints after training: score each on val and on the balanced test split (original
audio, canonical mIoU), write ``TRAINING.md`` beside it with the exact command, and drop the resume state.

    avsprobe train --model vanilla --out avsprobe/checkpoints/vanilla --force
    avsprobe train --model ours-nodebias --phi-negatives --out avsprobe/checkpoints/ours-nodebias --force
    avsprobe train --model ours --debias uncertainty --loss LOSS --phi-negatives --out avsprobe/checkpoints/ours --force
    avsprobe train --model visual-only --out avsprobe/checkpoints/visual-only --force
    avsprobe train --model vanilla-debias --loss paper --out avsprobe/checkpoints/vanilla-debias --force
    python scripts/bundle_checkpoints.py

or, with seed-0 checkpoints trained elsewhere by the same commands (``--out runs/train/NAME-s0``; training is
seeded, so the weights are the same bytes), ``python scripts/bundle_checkpoints.py --from runs/train`` copies
them in first (``ours`` from ``--ours-folder``, the loss chosen on val).

The test split is scored here, after training, for the record only; no choice depends on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.reference.checkpoint import load_checkpoint
from avsprobe.reference.data import load_frames
from avsprobe.reference.train import evaluate_miou

BUNDLED = Path(__file__).resolve().parents[1] / "avsprobe" / "checkpoints"
COMMANDS = {
    "vanilla": "avsprobe train --model vanilla --out avsprobe/checkpoints/vanilla --force",
    "ours-nodebias": "avsprobe train --model ours-nodebias --phi-negatives --out avsprobe/checkpoints/ours-nodebias "
                     "--force",
    "ours": "avsprobe train --model ours --debias uncertainty --loss {loss} --phi-negatives --out "
            "avsprobe/checkpoints/ours --force",
    "visual-only": "avsprobe train --model visual-only --out avsprobe/checkpoints/visual-only --force",
    "vanilla-debias": "avsprobe train --model vanilla-debias --loss {loss} --out avsprobe/checkpoints/vanilla-debias "
                      "--force",
}


def _copy_in(source: Path, ours_folder: str) -> None:
    import shutil

    for name in COMMANDS:
        folder = source / (ours_folder if name == "ours" else f"{name}-s0")
        for file in ("model.safetensors", "config.json"):
            shutil.copyfile(folder / file, BUNDLED / name / file)


def _set_inference(settings: list[str]) -> dict[str, str]:
    """Write inference settings chosen on val (``contrast_on=foreground``) into the bundled ``ours``
    config.json; they change no weight."""
    from avsprobe.reference.config import ReferenceConfig

    record = json.loads((BUNDLED / "ours" / "config.json").read_text())
    changes = dict(item.split("=", 1) for item in settings)
    for key, value in changes.items():
        current = record["config"][key]
        record["config"][key] = type(current)(value) if not isinstance(current, bool) else value == "true"
    ReferenceConfig(**record["config"])  # still a valid config
    (BUNDLED / "ours" / "config.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return changes


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=None, help="folder of NAME-s0 checkpoints")
    parser.add_argument("--ours-folder", default="ours-paper-s0", help="the ours checkpoint under --from")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        help="KEY=VALUE inference setting of the bundled ours, chosen on val")
    parser.add_argument("--timing", default="2 CPU cores", help="how the trainings ran, for TRAINING.md")
    parser.add_argument("--only", action="append", default=None, choices=list(COMMANDS),
                        help="finish only this bundled checkpoint (repeatable; default: all)")
    args = parser.parse_args()
    if args.source is not None:
        _copy_in(args.source, args.ours_folder)
    inference = _set_inference(args.settings) if args.settings else {}
    torch.set_num_threads(2)
    world = ensure_default_world()
    world_version = json.loads((world / "world.json").read_text())["spec"]["version"]
    data: dict[str, object] = {}
    for name, command in COMMANDS.items():
        if args.only and name not in args.only:
            continue
        folder = BUNDLED / name
        model, record = load_checkpoint(folder)
        classes = record["classes"]
        for split in ("val", "test"):
            if split not in data:
                data[split] = load_frames(world, split, classes, model.config.frame_size, workers=2)
        scores = {split: evaluate_miou(model, data[split]) for split in ("val", "test")}  # type: ignore[arg-type]
        training = record["training"]
        history = training["history"]
        command = command.format(loss=training["settings"].get("debias_loss", "paper"))
        size_mb = (folder / "model.safetensors").stat().st_size / 1e6
        lines = [
            f"# {name}", "",
            f"Trained on the default bias lab (world version {world_version}, world seed 0, "
            "`probes/worlds/biaslab.toml`), tiny variant, by:", "",
            "```bash", command, "```", "",
            *([f"then its inference settings chosen on world v2's val (`reports/debias/val-choice.md`; not re-chosen "
               f"on v3) were written into "
               f"`config.json`: {', '.join(f'`{k}={v}`' for k, v in inference.items())} "
               f"(`python scripts/bundle_checkpoints.py --set ...`; no weight changes).", ""]
              if name == "ours" and inference else []),
            f"- training seed: {training['settings']['seed']}; epochs: {training['settings']['epochs']}; "
            f"batch: {training['settings']['batch_size']} frames; best epoch on val: {training['best']['epoch'] + 1}",
            f"- canonical mIoU, original audio: val {scores['val']:.4f}, balanced test {scores['test']:.4f}",
            f"- seconds per epoch ({args.timing}): {', '.join(str(round(h['seconds'])) for h in history)}",
            f"- perception fit: {json.dumps(training['perception_fit'])}",
            f"- weights: {size_mb:.2f} MB (`model.safetensors`), config and full training record in `config.json`",
            "",
        ]
        (folder / "TRAINING.md").write_text("\n".join(lines))
        for leftover in ("last.json", "last.safetensors"):
            (folder / leftover).unlink(missing_ok=True)
        print(f"{name}: val {scores['val']:.4f}, test {scores['test']:.4f}, {size_mb:.2f} MB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
