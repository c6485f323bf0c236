"""The model adapter interface: how any AVS model plugs into avsprobe.

Only ``predict(batch) -> logits`` is required. ``input_spec`` says what the model wants; the runner resizes
frames, normalises them and resamples audio to it, and resizes the logits back to the mask size to score.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from avsprobe.data.fingerprint import path_identity

if TYPE_CHECKING:
    import torch

    from avsprobe.types import AVBatch

__all__ = ["InputSpec", "ModelAdapter", "variant_text"]


def variant_text(variant: dict[str, Any]) -> str:
    """``checkpoint=vanilla-seed1, alpha=3``: option values short and readable (paths by their last part)."""
    def short(value: Any) -> str:
        text = str(value)
        return text.rstrip("/").rsplit("/", 1)[-1] if "/" in text else text

    return ", ".join(f"{k}={short(v)}" for k, v in sorted(variant.items()))


@dataclass(frozen=True)
class InputSpec:
    """What a model takes.

    Attributes:
        frame_size: ``(H, W)`` the frames are resized to (bilinear); None keeps the data's size.
        frames_per_clip: frames the model takes; None keeps the data's count.
        sample_rate_hz: audio rate (soxr resampling when it differs from 16 kHz).
        mean, std: frames are scaled to [0, 1], then ``(x - mean) / std`` per channel (ImageNet for most
            AVS models: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)).
        output: ``"binary"`` logits ``[B, T, H, W]`` or ``"semantic"`` ``[B, T, K, H, W]``.
        classes: a semantic model's class names, one per output channel, background first (default: the 71
            AVSS classes).
        audio: the input family (``avsprobe.audio.features``): ``"waveform"`` (``batch.audio`` only),
            ``"vggish_logmel"`` (``batch.audio_features [B, T, 1, 96, 64]``) or ``"vggish_embedding"``
            (``[B, T, 128]``), computed by the runner from the probed waveform on the adapter's device;
            ``"precomputed"`` (the adapter reads features from disk) is refused as not probe-able.
        short_policy: VGGish's policy for clips shorter than ``T`` seconds (``repeat_last``, ...).
        vggish_weights, vggish_pca: files of the converted VGGish weights and of its PCA parameters (the
            latter turns on the released-embedding post-processing).
    """

    frame_size: tuple[int, int] | None = None
    frames_per_clip: int | None = None
    sample_rate_hz: int = 16_000
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    output: Literal["binary", "semantic"] = "binary"
    classes: tuple[str, ...] | None = None
    audio: Literal["waveform", "vggish_logmel", "vggish_embedding", "precomputed"] = "waveform"
    short_policy: Literal["repeat_last", "pad_silence", "zero_logmel"] = "repeat_last"
    vggish_weights: str | None = None
    vggish_pca: str | None = None


_LATER_SPEC_FIELDS = {"classes": None, "audio": "waveform", "short_policy": "repeat_last", "vggish_weights": None,
                      "vggish_pca": None}


def _named_files(options: dict[str, Any]) -> dict[str, str]:
    """The content identity of every option that names an existing file or folder (weights, a repository)."""
    return {key: path_identity(value) for key, value in sorted(options.items())
            if isinstance(value, str) and value and os.path.exists(value)}


class ModelAdapter(abc.ABC):
    """Base class of every adapter. Subclasses implement ``predict``; everything else has a default.

    Construct through ``from_options(**opts)`` (what ``--model-opt key=value`` calls) so the options are
    recorded in the run's fingerprint.
    """

    name: ClassVar[str] = ""
    input_spec: InputSpec = InputSpec()

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}
        self.device = "cpu"

    @abc.abstractmethod
    def predict(self, batch: AVBatch) -> torch.Tensor:
        """Logits ``[B, T, H, W]`` (binary) at ``input_spec.frame_size`` (or the batch's frame size)."""

    @classmethod
    def from_options(cls, **options: Any) -> ModelAdapter:
        """Build from string options (``--model-opt k=v``); the default passes them to ``__init__``."""
        adapter = cls(**options)
        adapter.options = dict(options)
        return adapter

    def to(self, device: str) -> ModelAdapter:
        """Move to a torch device; adapters holding modules override and call ``super().to``."""
        self.device = device
        return self

    def variant(self) -> dict[str, Any]:
        """What sets this adapter apart from the model its name stands for (empty: the default one, such as a
        bundled checkpoint with no options); run folders and report labels carry it."""
        return dict(self.options)

    def frame_notes(self, batch: AVBatch) -> list[list[dict[str, Any]]] | None:
        """What the model says about itself per frame, added to the records as columns: per clip, per frame, a
        dict of JSON-able fields (the reference models with active queries report which classes their
        perception module Phi marked, ``phi_marks``). None (the default): nothing."""
        return None

    def training_seed(self) -> int | None:
        """The seed the model's weights were trained with, where known (reports group runs of one model from
        several seeds); None by default."""
        return None

    def fingerprint_options(self) -> dict[str, Any]:
        """The options that can change the output (all of them unless an adapter knows better)."""
        return self.options

    def fingerprint(self) -> str:
        """sha256 of the adapter's class, name, options and input spec, and of the content of every option that
        names a file or folder (:func:`~avsprobe.data.fingerprint.path_identity`: retrained weights at the same
        path make another model).

        Input-spec fields left at their defaults that were added after the first release (``classes``,
        ``audio``, ``short_policy``, ``vggish_weights``, ``vggish_pca``) are left out, so adding them did not
        change any existing model's fingerprint (and runs recorded before still resume)."""
        spec = {k: v for k, v in asdict(self.input_spec).items() if not (k in _LATER_SPEC_FIELDS and v == _LATER_SPEC_FIELDS[k])}
        options = self.fingerprint_options()
        identity = {"class": f"{type(self).__module__}.{type(self).__qualname__}", "name": self.name,
                    "options": options, "input_spec": spec}
        files = _named_files(options)
        if files:  # only then: an adapter without path options keeps the fingerprint it always had
            identity["files"] = files
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
