"""Reading a built bias-lab world back as :class:`~avsprobe.types.AVSample` objects."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from avsprobe.data.avsbench.readers import AVSSReader
from avsprobe.errors import DataError
from avsprobe.types import AVSample

if TYPE_CHECKING:
    from avsprobe.data.avsbench.readers import AVSSReader

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
        self._split_of = {r["uid"]: r["split"] for r in self._rows}
        self._readers: dict[str, AVSSReader] = {}

    def uids(self, split: str | None = None) -> list[str]:
        """Clip ids, in metadata order, of one split or of all."""
        return [r["uid"] for r in self._rows if split is None or r["split"] == split]

    def training_sounding_frequency(self) -> dict[str, float]:
        """Per class, the fraction of its train objects that sound (the planted visual prior)."""
        stats = self.info["statistics"]["train"]  # type: ignore[index]
        return {cls: float(v["sounding_frequency"]) for cls, v in stats.items()}  # type: ignore[union-attr]

    def posterior_bed(self) -> dict[str, float] | None:
        """Per class, P(sounds | class, the audio is the bed alone) in train (world v3), or None (world v2)."""
        posterior = self.info.get("posterior_bed")  # type: ignore[union-attr]
        return {cls: float(v) for cls, v in posterior.items()} if posterior else None

    def clip_dir(self, uid: str) -> Path:
        return self.root / self.label / uid

    def read(self, uid: str) -> AVSample:
        """Load one clip through the AVSS reader: frames, mixture audio, masks and every object."""
        split = self._split_of.get(uid)
        if split is None:
            raise DataError(f"no clip {uid!r} in {self.root / 'metadata.csv'}")
        if split not in self._readers:
            self._readers[split] = AVSSReader(self.root, split, subset=self.label)
        return self._readers[split].read(uid)
