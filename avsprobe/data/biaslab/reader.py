"""Reading a built bias-lab world back as :class:`~avsprobe.types.AVSample` objects."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from avsprobe.errors import DataError
from avsprobe.types import AVSample, ObjectInfo

__all__ = ["BiasLabWorld"]


class BiasLabWorld:
    """A bias-lab world on disk (the output of ``avsprobe synth``).

    Args:
        root: the folder holding ``world.json`` and ``metadata.csv``.

    Raises:
        DataError: the folder is not a built world (the message names the missing file).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        world_file = self.root / "world.json"
        if not world_file.is_file():
            raise DataError(f"{self.root} is not a bias-lab world: {world_file} is missing (build one with 'avsprobe synth')")
        self.info: dict[str, object] = json.loads(world_file.read_text())
        self.label = str(self.info.get("label", "biaslab"))
        with open(self.root / "metadata.csv", newline="") as f:
            self._rows = list(csv.DictReader(f))

    def uids(self, split: str | None = None) -> list[str]:
        """Clip ids, in metadata order, of one split or of all."""
        return [r["uid"] for r in self._rows if split is None or r["split"] == split]

    def training_sounding_frequency(self) -> dict[str, float]:
        """Per class, the fraction of its train objects that sound (the planted visual prior)."""
        stats = self.info["statistics"]["train"]  # type: ignore[index]
        return {cls: float(v["sounding_frequency"]) for cls, v in stats.items()}  # type: ignore[union-attr]

    def clip_dir(self, uid: str) -> Path:
        return self.root / self.label / uid

    def read(self, uid: str) -> AVSample:
        """Load one clip: frames, mixture audio, sounding mask, semantic mask and every object."""
        from PIL import Image

        from avsprobe.audio.io import load_audio

        folder = self.clip_dir(uid)
        objects_file = folder / "objects.json"
        if not objects_file.is_file():
            raise DataError(f"clip {uid!r}: {objects_file} is missing")
        meta = json.loads(objects_file.read_text())
        frame_files = sorted((folder / "frames").glob("*.png"), key=lambda p: int(p.stem))
        if not frame_files:
            raise DataError(f"clip {uid!r}: no frames in {folder / 'frames'}")

        def png(path: Path) -> np.ndarray:
            try:
                with Image.open(path) as im:
                    return np.asarray(im)
            except OSError as exc:
                raise DataError(f"cannot read image {path}: {exc}") from exc

        frames = np.stack([png(p) for p in frame_files])
        instances = np.stack([png(folder / "instances" / p.name) for p in frame_files])
        objects = []
        semantic = np.zeros(instances.shape, dtype=np.int16)
        for o in meta["objects"]:
            mask = instances == o["instance_value"]
            if o["is_sounding"]:
                semantic[mask] = o["avss_index"]
            objects.append(ObjectInfo(
                object_id=o["object_id"], class_name=o["class_name"], mask=mask, is_sounding=bool(o["is_sounding"]),
                loudness_lufs=float(o["loudness_lufs"]), source_path=str(folder / o["source"])))
        audio = load_audio(folder / "audio.wav").audio
        return AVSample(
            sample_id=uid, frames=frames, audio=audio, mask=semantic > 0,
            annotated=np.ones(frames.shape[0], dtype=bool), semantic_mask=semantic, objects=tuple(objects),
            category="_".join(sorted(o.class_name for o in objects if o.is_sounding)),
            subset=self.label, split=str(meta["split"]),
            meta={"world": str(self.root), "mixture": meta["mixture"]},
        )
