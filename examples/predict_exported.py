"""Stand-in for "your own AVS code base": predict masks for an ``avsprobe export`` set (S4 layout) and save
them the way the AVSBench reference does, so ``avsprobe run --model predictions:DIR`` can score them.

The "model" here marks pixels brighter than the frame's mean; replace ``predict_frame`` with your network.

    python examples/predict_exported.py EXPORT_DIR PREDICTIONS_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from avsprobe.data.avsbench import open_reader


def predict_frame(frame: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, 3]`` -> ``bool [H, W]``."""
    brightness = frame.astype(np.float32).mean(axis=-1)
    return brightness > brightness.mean()


def main(export_dir: str, out_dir: str) -> None:
    reader = open_reader(export_dir, split="test", subset="S4")
    for name in reader.sample_ids():
        sample = reader.read(name)
        folder = Path(out_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        for k, frame in enumerate(sample.frames):  # 0-based names, as the reference's save_mask
            Image.fromarray((predict_frame(frame) * 255).astype(np.uint8)).save(folder / f"{name}_{k}.png")
    print(f"{len(reader.sample_ids())} clips predicted into {out_dir}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
