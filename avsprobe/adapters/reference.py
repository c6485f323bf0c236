"""Adapters for the reference model: ``vanilla``, ``ours-nodebias``, ``ours`` (with a debias strategy) and
``visual-only`` (the logits-ensemble's visual part).

Each loads a checkpoint folder (``model.safetensors`` + ``config.json``): the one given by
``--model-opt checkpoint=DIR``, else the checkpoint bundled with avsprobe under ``avsprobe/checkpoints/NAME``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from avsprobe.adapters.base import InputSpec, ModelAdapter
from avsprobe.audio.vggish import vggish_examples
from avsprobe.errors import AdapterError, ConfigError, DataError
from avsprobe.reference.audio import log_mel_descriptor
from avsprobe.reference.checkpoint import WEIGHTS_FILE, load_checkpoint
from avsprobe.reference.debias import contrast
from avsprobe.reference.inference import foreground_logits

if TYPE_CHECKING:
    import torch

    from avsprobe.types import AVBatch

__all__ = ["ReferenceAdapter", "VanillaAdapter", "OursNoDebiasAdapter", "OursAdapter", "VisualOnlyAdapter",
           "bundled_checkpoint"]

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


_flag.__name__ = "boolean"

INFERENCE_OPTIONS: dict[str, tuple[str, Any]] = {
    "alpha": ("debias_alpha", float), "contrast_on": ("contrast_on", str), "noise_draws": ("noise_draws", int),
    "mute_unmarked_zeroth": ("mute_unmarked_zeroth", _flag),
}
"""``--model-opt`` options that change only inference: option -> (config field, parser)."""


def bundled_checkpoint(name: str) -> Path:
    """The folder of the checkpoint shipped with avsprobe for model ``name``."""
    return BUNDLED_DIR / name


class ReferenceAdapter(ModelAdapter):
    """The reference model from a checkpoint folder.

    Args:
        checkpoint: checkpoint folder (default: the bundled one for this model name).
        batch_frames: frames per forward pass.
        mute_unmarked_zeroth: leave query 0 out of the foreground when Phi marks no class (inference only).
    """

    checkpoint_name: ClassVar[str] = ""
    also_loads: ClassVar[tuple[str, ...]] = ()
    """Recipes other than its own name whose checkpoints the adapter loads (``ours``: the logits ensemble's
    visual-only part)."""

    def __init__(self, checkpoint: str | None = None, batch_frames: int | str = 64,
                 mute_unmarked_zeroth: bool | str | None = None) -> None:
        super().__init__()

        folder = Path(checkpoint) if checkpoint else bundled_checkpoint(self.checkpoint_name or self.name)
        try:
            self.model, self.record = load_checkpoint(folder)
        except DataError as exc:
            hint = (" (train one with 'avsprobe train')" if checkpoint
                    else f" (train it with 'avsprobe train --model {self.name} --out {folder}')")
            raise AdapterError(f"model {self.name!r}: {exc}{hint}") from exc
        trained = self.record.get("model")
        if trained is not None and trained not in (self.name, *self.also_loads):
            # the adapter's name labels the runs and groups seeds in reports: a checkpoint of another recipe
            # loaded under it would be reported, and averaged, as this model
            raise AdapterError(f"model {self.name!r}: {folder} holds a checkpoint trained as {trained!r} (its "
                               f"config.json); load it with --model {trained}")
        self.folder = folder
        self.batch_frames = int(batch_frames)
        size = self.model.config.frame_size
        self.input_spec = InputSpec(frame_size=(size, size), mean=tuple(self.record["mean"]),
                                    std=tuple(self.record["std"]), output="binary")
        # the weights and the settings saved beside them (inference settings live in config.json too)
        self._weights_digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest() + hashlib.sha256(
            json.dumps(self.record["config"], sort_keys=True).encode()).hexdigest()
        self.inference_changes: dict[str, Any] = {}
        self._set_inference(self.model, mute_unmarked_zeroth=mute_unmarked_zeroth)

    def _set_inference(self, model: Any, **settings: Any) -> None:
        """Apply inference settings (``alpha``, ``contrast_on``, ...) given as options to ``model``'s config,
        remembering those that differ from the checkpoint's (they alone enter the fingerprint)."""
        config = model.config
        changes = {}
        for option, value in settings.items():
            if value is None:
                continue
            field, kind = INFERENCE_OPTIONS[option]
            try:
                parsed = kind(value)
            except (TypeError, ValueError):
                raise AdapterError(f"model {self.name!r}: {option}={value!r} is not a {kind.__name__}") from None
            if parsed != getattr(config, field):
                changes[field] = parsed
        if changes:
            try:
                model.config = config.replace(**changes)
            except ConfigError as exc:
                raise AdapterError(f"model {self.name!r}: {exc}") from None
        self.inference_changes.update(changes)

    def to(self, device: str) -> ModelAdapter:
        self.model.to(device)
        return super().to(device)

    def predict(self, batch: AVBatch) -> torch.Tensor:
        return self._logits(self.model, batch)

    @staticmethod
    def _frame_log_mel(batch: AVBatch) -> torch.Tensor:
        """``[B * T, 96, 64]``: each frame's VGGish log-mel example (the fast path), what the model hears."""
        t = batch.frames.shape[1]
        log_mel = vggish_examples(batch.audio, num_examples=t, device=batch.audio.device, precision="float32")[:, :, 0]
        return log_mel.reshape(-1, *log_mel.shape[-2:])

    def _logits(self, model: Any, batch: AVBatch) -> torch.Tensor:
        """Foreground logits ``[B, T, H, W]`` of ``model`` (frames in chunks of ``batch_frames``)."""
        import torch

        b, t, _, h, w = batch.frames.shape
        frames = batch.frames.reshape(b * t, 3, h, w)
        audio = self._frame_log_mel(batch)
        parts = [foreground_logits(model, frames[i : i + self.batch_frames], audio[i : i + self.batch_frames], (h, w))
                 for i in range(0, b * t, self.batch_frames)]
        return torch.cat(parts).reshape(b, t, h, w)

    def frame_notes(self, batch: AVBatch) -> list[list[dict[str, Any]]] | None:
        """``phi_marks``: per frame, the JSON list of classes Phi marks (models with active queries only), so a
        report shows when the perception module, not a prior, switched queries on."""
        model = getattr(self, "main_model", None) or self.model  # the ensemble's audio-visual part has the Phi
        if not model.config.active_queries:
            return None

        b, t = batch.frames.shape[:2]
        active = model.perception.activity(log_mel_descriptor(self._frame_log_mel(batch)).float())
        names = list(self.record.get("classes") or range(active.shape[1]))
        marked = active.reshape(b, t, -1).cpu().tolist()
        return [[{"phi_marks": json.dumps([str(names[k]) for k, on in enumerate(frame) if on])} for frame in clip]
                for clip in marked]

    def training_seed(self) -> int | None:
        seed = self.record.get("training", {}).get("settings", {}).get("seed")
        return int(seed) if isinstance(seed, int) else None

    def fingerprint_options(self) -> dict[str, Any]:
        """Options minus those that cannot change the output: ``batch_frames`` (batch independence) and
        inference settings equal to the checkpoint's own (only real changes are added back)."""
        kept = {k: v for k, v in self.options.items() if k not in ("batch_frames", *INFERENCE_OPTIONS)}
        return {**kept, **self.inference_changes}

    def fingerprint(self) -> str:
        return hashlib.sha256((super().fingerprint() + self._weights_digest).encode()).hexdigest()


class VanillaAdapter(ReferenceAdapter):
    """The Mask2Former AVS baseline (audio added to every query; no active queries, no dropping)."""

    name = "vanilla"


class OursNoDebiasAdapter(ReferenceAdapter):
    """The paper's model without a debias strategy: active queries, interaction enhancement, dropping."""

    name = "ours-nodebias"


class VanillaDebiasAdapter(ReferenceAdapter):
    """``vanilla`` trained with the uncertainty strategy: the paper's Table 4 (the strategy on another
    architecture, judged against that architecture's own vanilla).

    Args:
        checkpoint: a ``vanilla-debias`` checkpoint (default: the bundled one, seed 0).
        alpha: the contrast's alpha, ``(alpha + 1) main - alpha second`` (default: the checkpoint's, 1).
        contrast_on, noise_draws: inference settings of an uncertainty checkpoint (``reference.config``).
    """

    name = "vanilla-debias"

    def __init__(self, checkpoint: str | None = None, alpha: float | str | None = None, batch_frames: int | str = 64,
                 contrast_on: str | None = None, noise_draws: int | str | None = None) -> None:
        super().__init__(checkpoint, batch_frames)
        if self.model.config.debias != "uncertainty":
            raise AdapterError(f"model {self.name!r}: {self.folder} has no uncertainty branch (debias "
                               f"{self.model.config.debias!r})")
        self._set_inference(self.model, alpha=alpha, contrast_on=contrast_on, noise_draws=noise_draws)


class VisualOnlyAdapter(ReferenceAdapter):
    """The visual-only model of the logits ensemble (vanilla recipe, audio prompt zeroed)."""

    name = "visual-only"


class OursAdapter(ReferenceAdapter):
    """The paper's model with its debias strategy (bundled: uncertainty-based, paper preset).

    Args:
        checkpoint: the ``ours`` checkpoint (uncertainty or bias-only: the strategy is in its config), or a
            visual-only checkpoint for the logits ensemble.
        strategy: ``logits-ensemble`` merges ``main`` with the visual-only model at inference,
            ``(alpha + 1) logits(V, A) - alpha logits_visual(V)`` (default checkpoints: the bundled
            ``ours-nodebias`` and ``visual-only``); otherwise it must match the checkpoint's strategy.
        main: the audio-visual model of the ensemble.
        alpha: the contrast's alpha, ``(alpha + 1) main - alpha second`` (default: the checkpoint's
            ``debias_alpha``: 1, or 0 for a product-of-experts checkpoint); refused for bias-only, which gates.
        contrast_on, noise_draws: inference settings of an uncertainty checkpoint (``reference.config``).
    """

    name = "ours"
    also_loads = ("visual-only",)

    def __init__(self, checkpoint: str | None = None, strategy: str | None = None, main: str | None = None,
                 alpha: float | str | None = None, batch_frames: int | str = 64, contrast_on: str | None = None,
                 noise_draws: int | str | None = None, mute_unmarked_zeroth: bool | str | None = None) -> None:
        ensemble = strategy == "logits-ensemble"
        if ensemble and checkpoint is None:
            checkpoint = str(bundled_checkpoint("visual-only"))
        super().__init__(checkpoint, batch_frames, mute_unmarked_zeroth)
        config = self.model.config
        ensemble = ensemble or config.debias == "logits-ensemble"
        if self.record.get("model") == "visual-only" and not ensemble:
            raise AdapterError(f"model 'ours': {self.folder} holds a visual-only checkpoint, which 'ours' runs only as "
                               "the logits ensemble's visual part (strategy=logits-ensemble)")
        if strategy is not None and not ensemble and strategy != config.debias:
            raise AdapterError(f"model 'ours': {self.folder} was trained with debias {config.debias!r}, not {strategy!r}")
        self.main_model = None
        if config.debias == "bias-only" and alpha is not None:
            raise AdapterError(f"model 'ours': {self.folder} is a bias-only checkpoint, which combines its branches "
                               "by gating (logits * sigmoid(visual logits)) and has no alpha")
        if alpha is not None and not ensemble and config.debias != "uncertainty":
            raise AdapterError(f"model 'ours': {self.folder} has no second branch (debias {config.debias!r}), so "
                               "alpha would change nothing")
        self.alpha = float(alpha) if alpha is not None else config.debias_alpha
        self._set_inference(self.model, alpha=None if ensemble else alpha, contrast_on=contrast_on,
                            noise_draws=noise_draws)
        if ensemble:
            if self.alpha != config.debias_alpha:
                self.inference_changes["debias_alpha"] = self.alpha
            self.name = "ours[logits-ensemble]"  # type: ignore[misc]  (its runs and report columns stand apart)
            main_adapter = OursNoDebiasAdapter(main, batch_frames)
            self.main_model = main_adapter.model
            self._weights_digest += main_adapter._weights_digest
            if main_adapter.model.config.frame_size != config.frame_size:
                raise AdapterError("the logits ensemble needs both models at the same frame size")

    def to(self, device: str) -> ModelAdapter:
        if self.main_model is not None:
            self.main_model.to(device)
        return super().to(device)

    def predict(self, batch: AVBatch) -> torch.Tensor:
        if self.main_model is None:
            return self._logits(self.model, batch)

        return contrast(self._logits(self.main_model, batch), self._logits(self.model, batch), self.alpha)
