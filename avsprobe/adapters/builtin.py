"""Built-in adapters: trivial baselines, wrappers (audio-blind, contrastive) and saved predictions."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.adapters.base import ModelAdapter
from avsprobe.audio.noise import noise_at_loudness
from avsprobe.data.avsbench.decode import read_binary_mask
from avsprobe.errors import AdapterError
from avsprobe.probes.export import exported_name
from avsprobe.seeding import rng_for

if TYPE_CHECKING:
    import torch

    from avsprobe.types import AVBatch

__all__ = ["EmptyAdapter", "FullAdapter", "AudioBlind", "Contrastive", "PredictionsAdapter"]

_CONFIDENT = 10.0  # logit of a confident mask pixel: sigmoid(10) = 0.99995


def _frames_shape(batch: AVBatch) -> tuple[int, int, int, int]:
    b, t, _, h, w = batch.frames.shape
    return b, t, h, w


class EmptyAdapter(ModelAdapter):
    """Segments nothing: the trivial baseline of every false-positive metric."""

    name = "empty"

    def predict(self, batch: AVBatch) -> torch.Tensor:
        import torch

        return torch.full(_frames_shape(batch), -_CONFIDENT)


class FullAdapter(ModelAdapter):
    """Segments every pixel of every frame."""

    name = "full"

    def predict(self, batch: AVBatch) -> torch.Tensor:
        import torch

        return torch.full(_frames_shape(batch), _CONFIDENT)


class AudioBlind(ModelAdapter):
    """Any adapter with the audio zeroed (digital silence): what it segments is its visual prior."""

    def __init__(self, inner: ModelAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.input_spec = inner.input_spec
        self.options = {"inner": inner.name, "inner_fingerprint": inner.fingerprint()}

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"audio-blind:{self.inner.name}"

    def variant(self) -> dict[str, Any]:
        return self.inner.variant()

    def predict(self, batch: AVBatch) -> torch.Tensor:
        import torch

        return self.inner.predict(dataclasses.replace(batch, audio=torch.zeros_like(batch.audio)))

    def to(self, device: str) -> ModelAdapter:
        self.inner.to(device)
        return super().to(device)


class Contrastive(ModelAdapter):
    """The paper's contrast at inference for any adapter: ``(1 + a) * logits(V, A) - a * logits(V, noise)``.

    Both branches run in one batched forward (the batch is doubled). The noise is white, seeded per (sample,
    condition) and brought to a fixed loudness, ``noise_lufs`` (default -23 LUFS, the negative probe's
    reference level), whatever the clip's audio: the distorted branch then hears the same kind of input on
    every clip, digital silence included (scaled to the clip's RMS, as before, it was silence there and the
    wrapper the identity). Predictions are deterministic.
    """

    def __init__(self, inner: ModelAdapter, alpha: float = 1.0, noise_lufs: float = -23.0) -> None:
        super().__init__()
        self.inner = inner
        self.alpha = float(alpha)
        self.noise_lufs = float(noise_lufs)
        self.input_spec = inner.input_spec
        self.options = {"inner": inner.name, "inner_fingerprint": inner.fingerprint(), "alpha": self.alpha,
                        "noise_lufs": self.noise_lufs}

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.inner.name}+contrastive(alpha={self.alpha:g})"

    def variant(self) -> dict[str, Any]:
        return self.inner.variant()  # alpha is in the name

    def noise(self, batch: AVBatch) -> torch.Tensor:
        """``float32 [B, N]``: each clip's seeded white noise at ``noise_lufs``."""
        import torch

        rate = self.input_spec.sample_rate_hz
        seconds = batch.audio.shape[1] / rate
        return torch.stack([
            torch.from_numpy(noise_at_loudness("white", seconds, self.noise_lufs, rng_for("contrastive", s, c),
                                               sample_rate_hz=rate).audio.astype(np.float32))
            for s, c in zip(batch.sample_ids, batch.condition_ids, strict=True)]).to(batch.audio.device)

    def predict(self, batch: AVBatch) -> torch.Tensor:
        import torch

        doubled = dataclasses.replace(
            batch, frames=torch.cat([batch.frames, batch.frames]), audio=torch.cat([batch.audio, self.noise(batch)]),
            sample_ids=batch.sample_ids * 2, condition_ids=batch.condition_ids * 2,
            truth=None if batch.truth is None else batch.truth * 2)
        logits = self.inner.predict(doubled)
        main, distorted = logits[: len(batch)], logits[len(batch):]
        return (1 + self.alpha) * main - self.alpha * distorted

    def to(self, device: str) -> ModelAdapter:
        self.inner.to(device)
        return super().to(device)


class PredictionsAdapter(ModelAdapter):
    """Masks predicted elsewhere, read back from PNGs named as an ``avsprobe export`` manifest says.

    ``DIR`` holds, for every exported clip ``{name}`` (see ``manifest.csv``), one mask per frame as
    ``{name}/{name}_{k}.png``, ``{name}_{k}.png`` or, as AVSBench's own ``save_mask`` writes them,
    ``{category}/{name}/{name}_{k}.png``, with ``k`` from 0 (1-based names are accepted too). Nonzero colour
    pixels are the object (alpha is ignored). A missing mask names the paths tried.
    """

    name = "predictions"

    def __init__(self, directory: str | Path) -> None:
        super().__init__()
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise AdapterError(f"predictions folder not found: {self.directory}")
        self.options = {"directory": str(self.directory)}

    def variant(self) -> dict[str, Any]:
        return {"dir": self.directory.resolve().name}

    def _mask_file(self, name: str, k: int) -> Path:
        if not hasattr(self, "_categories"):  # save_mask's category level: the folders directly in DIR
            self._categories = sorted(p for p in self.directory.iterdir() if p.is_dir())
        bases = [self.directory / name, self.directory, *(c / name for c in self._categories if (c / name).is_dir())]
        for base in bases:
            for index in (k, k + 1):
                path = base / f"{name}_{index}.png"
                if path.is_file() and (index == k or not (base / f"{name}_0.png").is_file()):
                    return path
        tried = ", ".join(str(p) for p in (self.directory / name / f"{name}_{k}.png", self.directory / f"{name}_{k}.png",
                                           self.directory / "CATEGORY" / name / f"{name}_{k}.png"))
        raise AdapterError(f"no predicted mask for clip {name!r} frame {k}: tried {tried} (and 1-based names)")

    def predict(self, batch: AVBatch) -> torch.Tensor:
        import torch

        b, t, h, w = _frames_shape(batch)
        out = torch.empty(b, t, h, w)
        for i, (sample_id, condition_id) in enumerate(zip(batch.sample_ids, batch.condition_ids, strict=True)):
            name = exported_name(sample_id, condition_id)
            for k in range(t):
                mask = read_binary_mask(self._mask_file(name, k))  # colour only, never alpha
                if mask.shape != (h, w):
                    raise AdapterError(f"predicted mask of {name!r} frame {k} is {mask.shape}, frames are {(h, w)}")
                out[i, k] = torch.from_numpy(np.where(mask, _CONFIDENT, -_CONFIDENT).astype(np.float32))
        return out

    def fingerprint(self) -> str:
        digest = hashlib.sha256(super().fingerprint().encode())
        for path in sorted(self.directory.rglob("*.png")):
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()


_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?((0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+|0|[1-9][0-9]*)([eE][+-]?[0-9]+)?")


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["alpha=1", "name=x"]`` -> ``{"alpha": 1, "name": "x"}``: booleans, and numbers written as numbers
    (``1``, ``-0.5``, ``1e-3``) are converted; anything else stays text (``007``, a run id, stays ``"007"``;
    ``nan`` and ``inf`` stay words, never a number no option means)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AdapterError(f"model option {pair!r} is not key=value")
        lowered = value.lower()
        if lowered in ("true", "false"):
            options[key] = lowered == "true"
        elif _INT.fullmatch(value):
            options[key] = int(value)
        elif _FLOAT.fullmatch(value):
            options[key] = float(value)
        else:
            options[key] = value
    return options
