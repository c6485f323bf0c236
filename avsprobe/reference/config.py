"""Reference-model configuration: one frozen dataclass, named variants, and every Table-2 ablation as a switch."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Literal

from avsprobe.errors import ConfigError

__all__ = ["ReferenceConfig", "VARIANTS", "get_config", "LEGACY_DEFAULTS"]


@dataclass(frozen=True)
class ReferenceConfig:
    """Architecture, matching and loss settings.

    Ablation switches (paper Table 2): ``active_queries``, ``zeroth_query_active``, ``interaction_enhancement``,
    ``drop_dominant``, ``debias`` (``reference.debias`` describes the strategies).
    """

    backbone: Literal["tiny", "hf-mask2former"] = "tiny"
    backbone_path: str | None = None  # hf-mask2former: a local save_pretrained folder (Swin-B ADE20k)
    frame_size: int = 96  # frames are resized to frame_size x frame_size (a multiple of 32)
    # "log_mel": a small trainable CNN on VGGish log-mel examples; "vggish": the frozen VGGish network
    # (weights from vggish_path); "embedding": 128-d embeddings computed elsewhere
    audio_input: Literal["log_mel", "vggish", "embedding"] = "log_mel"
    vggish_path: str | None = None
    hidden_dim: int = 64
    num_queries: int = 20  # mark 0 + 8 classes x dilation 2 = 17 active at most
    num_layers: int = 3
    num_heads: int = 4
    ffn_dim: int = 128
    num_classes: int = 8
    dilation: int = 2  # one class or cluster drives `dilation` queries (supplement B.1)
    perception: Literal["supervised", "kmeans", "gmm"] = "supervised"
    threshold: float = 0.4  # theta of the supervised perception module
    top_k: int | None = None  # alternative to the threshold
    prompt: Literal["attention", "add"] = "attention"  # "add" = the official code's plain addition
    active_queries: bool = True
    zeroth_query_active: bool = True
    interaction_enhancement: bool = True
    drop_dominant: bool = True
    drop_mode: Literal["paper", "official"] = "paper"
    drop_p: float = 0.4
    mask_cost: Literal["focal", "bce"] = "focal"
    weight_focal: float = 5.0
    weight_dice: float = 5.0
    weight_class: float = 2.0
    final_layer_weight: float = 2.0  # the last layer's losses count this much more than each auxiliary layer
    empty_class_weight: float = 0.1
    debias: Literal["none", "uncertainty", "bias-only", "logits-ensemble"] = "none"
    debias_alpha: float = 1.0  # (alpha + 1) logits(V, A) - alpha logits(V, A_t); the paper's alpha = 1
    noise_preset: Literal["paper", "official"] = "paper"  # T = 1000 and pure noise at test, or T = 100 and t = 99
    noise_seed: int = 0  # seed of the fixed inference noise (deterministic predictions)
    visual_only: bool = False  # the audio prompt is zeroed: the logits-ensemble's visual-only model
    # --- the second branch of uncertainty / bias-only (reference.debias explains each choice) ---
    # "all": the second branch runs the fixed audio-free mark set (query 0 and every class query), so it
    # depends on A_t only; "clean": it reuses Phi(A) of the clean audio (the first release: it leaks A)
    distorted_marks: Literal["all", "clean"] = "all"
    # "queries": (alpha+1) m - alpha d per query active in both branches (main alone where the second
    # branch has it dormant, the dormant filler left alone); "foreground": the same on the per-pixel
    # foreground logits of the two branches (inference only: the losses stay per query);
    # "foreground-main-marks": the same with the second branch read out over the main branch's active queries
    # (the official binary readout: both branches go through the main marks' gating)
    contrast_on: Literal["queries", "foreground", "foreground-main-marks"] = "queries"
    # "feature": eps drawn at the per-dimension RMS of F_A (a running estimate kept in the checkpoint), so
    # |eps| matches |F_A|; "unit": standard normal eps (the first release: about 10x |F_A|)
    noise_scale: Literal["feature", "unit"] = "feature"
    noise_draws: int = 4  # fixed seeded noise draws averaged at inference (deterministic, batch-independent)
    # training loss: "paper" L(contrast) (Eq. 14); "official" L(main) + 10 L(contrast) (the authors' AVSS
    # code); departures: "supervised-bias" L(contrast with d stop-gradient) + L(d), and "poe" (product of
    # experts) L(m + d stop-gradient) + L(d), whose inference is the main branch (alpha = 0), and
    # "supervised-prior": supervised-bias with L(d) on the frames whose audio names no class only (world v3's
    # bed-only and silent-object clips), so that d estimates P(sounding | V) where the audio says nothing
    debias_loss: Literal["paper", "official", "supervised-bias", "supervised-prior", "poe"] = "paper"
    # query 0 (the only active query when Phi marks no class) left out of the foreground in that case
    mute_unmarked_zeroth: bool = False

    def __post_init__(self) -> None:
        _check_types(self)
        if self.backbone == "hf-mask2former" and not self.backbone_path:
            raise ConfigError("backbone 'hf-mask2former' needs backbone_path (a local save_pretrained folder)")
        if self.audio_input == "vggish" and not self.vggish_path:
            raise ConfigError("audio_input 'vggish' needs vggish_path (the converted vggish-10086976.pth)")
        if self.frame_size % 32 or self.frame_size <= 0:
            raise ConfigError(f"frame_size must be a positive multiple of 32, got {self.frame_size}")
        if not 0.0 <= self.drop_p <= 1.0:
            raise ConfigError(f"drop_p must lie in [0, 1], got {self.drop_p}")
        if self.hidden_dim % self.num_heads:
            raise ConfigError(f"hidden_dim {self.hidden_dim} is not divisible by num_heads {self.num_heads}")
        if self.noise_draws < 1:
            raise ConfigError(f"noise_draws must be at least 1, got {self.noise_draws}")
        if 1 + self.num_classes * self.dilation > self.num_queries and self.active_queries:
            raise ConfigError(f"{self.num_queries} queries cannot hold mark 0 plus {self.num_classes} classes x "
                              f"dilation {self.dilation}")

    def replace(self, **changes: object) -> ReferenceConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


LEGACY_DEFAULTS: dict[str, object] = {"distorted_marks": "clean", "contrast_on": "queries", "noise_scale": "unit",
                                      "noise_draws": 1, "debias_loss": "paper", "mute_unmarked_zeroth": False}
"""Values of the fields added with the remedy's fix for a checkpoint whose ``config.json`` predates them (so
it loads and predicts as it was trained)."""

_POSITIVE = ("hidden_dim", "num_queries", "num_layers", "num_heads", "ffn_dim", "num_classes", "dilation")


def _check_types(config: ReferenceConfig) -> None:
    """Every field of the type its annotation names: a choice among its literals, positive sizes."""
    hints = typing.get_type_hints(ReferenceConfig)
    for f in dataclasses.fields(ReferenceConfig):
        value, hint = getattr(config, f.name), hints[f.name]
        if typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
            raise ConfigError(f"{f.name} must be one of {', '.join(map(repr, typing.get_args(hint)))}, got {value!r}")
        if hint in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"{f.name} must be a number, got {value!r}")
        if hint is bool and not isinstance(value, bool):
            raise ConfigError(f"{f.name} must be true or false, got {value!r}")
    for name in _POSITIVE:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(config, name)!r}")


VARIANTS: dict[str, ReferenceConfig] = {
    "tiny": ReferenceConfig(),
    # paper scale: pass backbone="hf-mask2former", backbone_path=..., audio_input="vggish", vggish_path=...
    # (the decoder alone, as benchmarks/decoder.py times it, runs with the tiny backbone)
    "paper": ReferenceConfig(hidden_dim=256, num_queries=100, num_layers=9, num_heads=8, ffn_dim=2048,
                             num_classes=70, dilation=1, frame_size=384),
}


def get_config(name: str, **overrides: object) -> ReferenceConfig:
    """A named variant, optionally with fields overridden (ablations: ``active_queries=False``, ...)."""
    if name not in VARIANTS:
        raise ConfigError(f"unknown reference variant {name!r}; known: {', '.join(VARIANTS)}")
    try:
        return VARIANTS[name].replace(**overrides)
    except TypeError as exc:
        raise ConfigError(f"bad override for {name!r}: {exc}") from None
