"""The reference AVS model: backbone, pixel decoder, audio encoder, perception, audio prompt and a
Mask2Former-style decoder over active queries (paper Sec. 4.1-4.3).

One forward handles ``B`` frames, each with its own 1-s audio example. Shapes: frames ``[B, 3, H, W]``
(normalised), audio ``[B, 96, 64]`` VGGish log-mel (or ``[B, 128]`` embeddings), outputs per prediction
(before the first layer and after each: ``num_layers + 1``) mask logits ``[B, N, H/4, W/4]`` and class
logits ``[B, N, K + 1]`` (index K = no object).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from avsprobe.reference.audio import AudioEncoder, log_mel_descriptor
from avsprobe.reference.backbone import PixelDecoder, TinyBackbone, sine_position_encoding
from avsprobe.reference.config import ReferenceConfig
from avsprobe.reference.debias import NOISE_PRESETS, alpha_bars, contrast, distort, fixed_noise, gate_by_bias
from avsprobe.reference.layers import ActiveQueryLayer, gather_active, scatter_active
from avsprobe.reference.perception import Perception, marks_from_activity

__all__ = ["ReferenceModel", "ModelOutput", "VisualFeatures", "foreground_probability", "foreground_logit"]

_NUM_LEVELS = 3

PROBABILITY_EPS = 1e-6
"""Probabilities are clipped to [eps, 1 - eps] before a logit."""

DORMANT_MASK_LOGIT = -20.0
"""Mask logit reported for dormant queries under interaction enhancement (their masks are never computed)."""


@dataclass
class VisualFeatures:
    """The visual side of one forward: decoder memory per level ``[B, L_l, C]`` with positional encodings,
    the level sizes, and the per-pixel mask embeddings ``[B, C, H/4, W/4]``."""

    memory: list[torch.Tensor]
    memory_pos: list[torch.Tensor]
    sizes: list[tuple[int, int]]
    mask_features: torch.Tensor

    def repeat(self, times: int) -> VisualFeatures:
        """The same features for ``times`` copies of the batch (``[times * B, ...]``), e.g. two audio branches."""
        return VisualFeatures([m.repeat(times, 1, 1) for m in self.memory], [p.repeat(times, 1, 1) for p in self.memory_pos],
                              self.sizes, self.mask_features.repeat(times, 1, 1, 1))


@dataclass
class ModelOutput:
    """Predictions of one forward.

    Attributes:
        masks: per prediction ``[B, N, h, w]`` mask logits (the last is the final prediction).
        classes: per prediction ``[B, N, K + 1]`` class logits.
        active: ``bool [B, N]``: the queries the marks made active (all True without active queries).
        bias: the second branch's own predictions when it takes a loss of its own (``bias-only``, and the
            ``supervised-bias`` and ``poe`` losses).
        main: the main branch's own predictions when the loss takes them (``official``: L(main)).
        loss_weight: the weight of this output's own loss (``official``: 10 on the contrast).
        main_branch, second_branch: both branches of a two-branch strategy, for inspection and for the
            ``foreground`` contrast.
    """

    masks: list[torch.Tensor]
    classes: list[torch.Tensor]
    active: torch.Tensor
    bias: ModelOutput | None = None
    main: ModelOutput | None = None
    loss_weight: float = 1.0
    main_branch: ModelOutput | None = None
    second_branch: ModelOutput | None = None

    def rows(self, keep: torch.Tensor) -> ModelOutput:
        """The predictions of the frames ``keep`` (``bool [B]``) selects (every layer; no extra outputs)."""
        return ModelOutput([m[keep] for m in self.masks], [c[keep] for c in self.classes], self.active[keep])


def foreground_probability(mask_logits: torch.Tensor, class_logits: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Mask2Former's semantic inference summed over classes: ``[B, h, w]`` probability that a pixel is a
    sounding object, ``sum_q (1 - p_q(no object)) sigmoid(m_q)`` over the active queries, clipped to [0, 1].

    Computed in float64: near 0 and 1 float32 steps are coarse in logit terms (at p = 0.9998 one float32
    step is 3e-4 in logit), which made the logits depend on the batch a clip was in."""
    p_object = 1 - class_logits.double().softmax(-1)[..., -1]  # [B, N]
    p_object = p_object * active
    return torch.einsum("bq,bqhw->bhw", p_object, mask_logits.double().sigmoid()).clamp(0.0, 1.0)


# The logits of probabilities float64 cannot tell from 0 or 1: log of its smallest normal number, and the logit of
# the largest float64 below 1. A pixel at a bound has no evidence either way in that branch; where a contrast meets
# one, its sign (covered or not) is the same for any bound this far out (tests/reference/test_foreground_logit.py).
_LOGIT_LOW = float(torch.log(torch.tensor(torch.finfo(torch.float64).tiny, dtype=torch.float64)))
_LOGIT_HIGH = float(torch.logit(torch.tensor(1 - torch.finfo(torch.float64).eps / 2, dtype=torch.float64)))


def foreground_logit(mask_logits: torch.Tensor, class_logits: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """``[B, h, w]`` float64 logit of :func:`foreground_probability`, computed without forming the probability:
    ``log p = logsumexp_q(log w_q + log sigmoid(m_q))`` and, with ``S = sum_q w_q``,
    ``1 - p = (1 - S) + sum_q w_q sigmoid(-m_q)`` (``w_q = 1 - p_q(no object)`` over the active queries).

    A probability clamped before its logit (``logit(clamp(p, 1e-6))``) made every pixel below the clamp the same
    and the contrast of two branches depend on the constant; here the logit is exact down to float64's range and
    only pixels with ``p = 0`` or ``p >= 1`` sit at the bounds ``_LOGIT_LOW`` / ``_LOGIT_HIGH``."""
    weight = (1 - class_logits.double().softmax(-1)[..., -1]) * active  # [B, N]
    log_weight = weight.log()[..., None, None]  # -inf for dormant queries
    mask = mask_logits.double()
    log_p = torch.logsumexp(log_weight + nn.functional.logsigmoid(mask), dim=1)
    rest = (1 - weight.sum(1))[..., None, None]  # [B, 1, 1]; negative where the weights sum past 1
    complement = (weight[..., None, None] * torch.sigmoid(-mask)).sum(1)
    # where the weights sum to at most 1 the complement is a sum of non-negative terms: in log space, exact
    # however small; past 1 it is formed directly, and a complement <= 0 is p >= 1
    log_q_sum = torch.logsumexp(torch.cat([rest.clamp_min(0).log().expand_as(log_p)[:, None],
                                           log_weight + nn.functional.logsigmoid(-mask)], dim=1), dim=1)
    direct = rest + complement
    log_q = torch.where(rest >= 0, log_q_sum, direct.clamp_min(0).log())
    return (log_p - log_q).clamp(_LOGIT_LOW, _LOGIT_HIGH)


class ReferenceModel(nn.Module):
    """The reference model for one :class:`ReferenceConfig`.

    The perception module is fitted separately (``Perception.fit``) and frozen while the rest trains.
    """

    def __init__(self, config: ReferenceConfig) -> None:
        super().__init__()
        c = config.hidden_dim
        self.config = config
        self.pixel_decoder: PixelDecoder | None = None
        if config.backbone == "tiny":
            self.backbone: nn.Module = TinyBackbone()
            self.pixel_decoder = PixelDecoder(TinyBackbone.channels, c)
        else:
            from avsprobe.reference.hf_backbone import HFMask2FormerBackbone

            self.backbone = HFMask2FormerBackbone(config.backbone_path or "", c)
        self.audio_encoder = AudioEncoder(c, config.audio_input, config.vggish_path)
        self.perception = Perception(config.perception, config.num_classes, threshold=config.threshold,
                                     top_k=config.top_k)
        self.query_feat = nn.Embedding(config.num_queries, c)
        self.query_pos = nn.Embedding(config.num_queries, c)
        self.level_embed = nn.Embedding(_NUM_LEVELS, c)
        if config.prompt == "attention":
            self.prompt_attn = nn.MultiheadAttention(c, config.num_heads, batch_first=True)
            self.prompt_norm = nn.LayerNorm(c)
        self.layers = nn.ModuleList(ActiveQueryLayer(c, config.num_heads, config.ffn_dim)
                                    for _ in range(config.num_layers))
        if config.debias == "uncertainty" and config.noise_scale == "feature":
            # per-dimension RMS of F_A, estimated while training (0 until then: unit noise)
            self.register_buffer("feature_rms", torch.zeros(c))
        self.decoder_norm = nn.LayerNorm(c)
        self.class_head = nn.Linear(c, config.num_classes + 1)
        self.mask_head = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True), nn.Linear(c, c), nn.ReLU(inplace=True),
                                       nn.Linear(c, c))

    # --- pieces ---

    def marks(self, audio: torch.Tensor, descriptor: torch.Tensor | None = None) -> torch.Tensor:
        """``bool [B, N]`` latent semantic marks from Phi (all True when active queries are switched off)."""
        cfg = self.config
        b = audio.shape[0]
        if not cfg.active_queries:
            return torch.ones(b, cfg.num_queries, dtype=torch.bool, device=audio.device)
        if descriptor is None:
            if cfg.audio_input == "embedding":
                raise ValueError("with audio_input='embedding' pass the log-mel descriptor for the perception module")
            descriptor = log_mel_descriptor(audio)
        with torch.no_grad():
            activity = self.perception.activity(descriptor.float())
        return marks_from_activity(activity, cfg.num_queries, cfg.dilation, zeroth_active=cfg.zeroth_query_active)

    def audio_prompt(self, audio_features: torch.Tensor, marks: torch.Tensor) -> torch.Tensor:
        """Initial queries ``[B, N, C]``: ``F'_A = repeat(F_A, N) * marks`` made into a prompt, plus ``q``."""
        prompt = audio_features[:, None, :] * marks[..., None].to(audio_features.dtype)
        queries = self.query_feat.weight[None].expand(prompt.shape[0], -1, -1)
        if self.config.prompt == "add":  # the official code: plain addition
            return queries + prompt
        padding = ~marks & marks.any(dim=1, keepdim=True)  # a clip with no active query attends to all
        attended, _ = self.prompt_attn(prompt, prompt, prompt, key_padding_mask=padding, need_weights=False)
        return queries + self.prompt_norm(attended)

    def _predict(self, queries: torch.Tensor, mask_features: torch.Tensor, next_size: tuple[int, int] | None,
                 active: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Class and mask logits of every query (with ``active``, masks of active queries only: dormant
        ones get :data:`DORMANT_MASK_LOGIT`), and the next layer's attention mask."""
        x = self.decoder_norm(queries)
        classes = self.class_head(x)
        if active is None:
            masks = torch.einsum("bqc,bchw->bqhw", self.mask_head(x), mask_features)
            return masks, classes, None if next_size is None else self._blocked(masks, next_size)
        # the mask read-out and the next attention mask dominate the cost: active queries only
        packed, valid, index = gather_active(x, active)
        packed_masks = torch.einsum("bqc,bchw->bqhw", self.mask_head(packed), mask_features)
        masks = packed_masks.new_full((x.shape[0], x.shape[1], *mask_features.shape[-2:]), DORMANT_MASK_LOGIT)
        masks = scatter_active(masks, packed_masks, valid, index, inplace=True)
        blocked = None
        if next_size is not None:  # dormant rows stay fully blocked; the layers never read them
            blocked = torch.ones(x.shape[0], x.shape[1], next_size[0] * next_size[1], dtype=torch.bool, device=x.device)
            blocked = scatter_active(blocked, self._blocked(packed_masks, next_size), valid, index, inplace=True)
        return masks, classes, blocked

    @staticmethod
    def _blocked(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``bool [B, Q, h * w]``: where the masks, resized to a memory level, are below 0.5 (not attended)."""
        small = nn.functional.interpolate(masks.detach(), size=size, mode="bilinear", align_corners=False)
        return small.flatten(2).sigmoid() < 0.5

    # --- forward ---

    def encode_visual(self, frames: torch.Tensor) -> VisualFeatures:
        """Backbone and pixel decoder on ``frames [B, 3, H, W]``."""
        features = self.backbone(frames)
        levels, mask_features = self.pixel_decoder(features) if self.pixel_decoder is not None else features
        memory, memory_pos, sizes = [], [], []
        for i, level in enumerate(levels):
            h, w = level.shape[-2:]
            sizes.append((h, w))
            memory.append(level.flatten(2).transpose(1, 2))
            pos = sine_position_encoding(h, w, self.config.hidden_dim, level.device) + self.level_embed.weight[i]
            memory_pos.append(pos[None].expand(level.shape[0], -1, -1))
        return VisualFeatures(memory, memory_pos, sizes, mask_features)

    def decode(self, visual: VisualFeatures, queries: torch.Tensor, marks: torch.Tensor) -> ModelOutput:
        """The decoder on initial ``queries [B, N, C]``: a prediction before the first layer and after each."""
        cfg = self.config
        query_pos = self.query_pos.weight[None].expand(queries.shape[0], -1, -1)
        interact = marks if (cfg.active_queries and cfg.interaction_enhancement) else None
        all_masks, all_classes = [], []
        masks, classes, blocked = self._predict(queries, visual.mask_features, visual.sizes[0], interact)
        all_masks.append(masks)
        all_classes.append(classes)
        for i, layer in enumerate(self.layers):
            level = i % _NUM_LEVELS
            queries = layer(queries, query_pos, visual.memory[level], visual.memory_pos[level], blocked, interact)
            next_size = visual.sizes[(i + 1) % _NUM_LEVELS] if i + 1 < len(self.layers) else None
            masks, classes, blocked = self._predict(queries, visual.mask_features, next_size, interact)
            all_masks.append(masks)
            all_classes.append(classes)
        return ModelOutput(all_masks, all_classes, marks)

    def audio_free_marks(self, batch: int, device: torch.device | str) -> torch.Tensor:
        """``bool [B, N]``: the second branch's fixed marks, query 0 and every class query (no audio in them)."""
        cfg = self.config
        if not cfg.active_queries:
            return torch.ones(batch, cfg.num_queries, dtype=torch.bool, device=device)
        every = torch.ones(batch, cfg.num_classes, dtype=torch.bool, device=device)
        return marks_from_activity(every, cfg.num_queries, cfg.dilation, zeroth_active=True)

    def forward(self, frames: torch.Tensor, audio: torch.Tensor, *, descriptor: torch.Tensor | None = None,
                marks: torch.Tensor | None = None, generator: torch.Generator | None = None,
                clip_index: torch.Tensor | None = None, second_features: torch.Tensor | None = None) -> ModelOutput:
        """Predict masks and classes for ``frames [B, 3, H, W]`` with ``audio [B, 96, 64]`` (see module doc).

        ``marks`` overrides Phi (tests, or marks supplied from outside as the official code reads them).
        With the ``uncertainty`` or ``bias-only`` strategy the second branch runs in the same batched decoder
        pass (the visual features are computed once). ``generator`` draws the training noise; ``clip_index
        [B]`` says which rows are frames of one clip (they share the noise step ``t``); ``second_features
        [D, B, C]`` replaces the second branch's audio features (tests: the branch sees nothing else).
        """
        cfg = self.config
        if marks is None:
            marks = self.marks(audio, descriptor)
        visual = self.encode_visual(frames)
        features = self.audio_encoder(audio)
        if cfg.visual_only:
            features = torch.zeros_like(features)
        if cfg.debias not in ("uncertainty", "bias-only"):
            return self.decode(visual, self.audio_prompt(features, marks), marks)
        if cfg.debias == "uncertainty" and cfg.noise_scale == "feature" and self.training:
            self._track_feature_scale(features)
        b = frames.shape[0]
        if second_features is None:
            second_features = (self._distorted(features, generator, clip_index) if cfg.debias == "uncertainty"
                               else torch.zeros_like(features)[None])
        second_marks = marks if cfg.distorted_marks == "clean" else self.audio_free_marks(b, marks.device)
        draws = second_features.shape[0]
        queries = torch.cat([self.audio_prompt(features, marks), *(self.audio_prompt(f, second_marks) for f in second_features)])
        both = self.decode(visual.repeat(1 + draws), queries, torch.cat([marks, *([second_marks] * draws)]))
        main = ModelOutput([m[:b] for m in both.masks], [c[:b] for c in both.classes], marks)
        # the second branch: its logits averaged over the noise draws (one draw in training)
        second = ModelOutput([m[b:].reshape(draws, b, *m.shape[1:]).mean(0) for m in both.masks],
                             [c[b:].reshape(draws, b, *c.shape[1:]).mean(0) for c in both.classes], second_marks)
        return self._combine(main, second)

    def _combine(self, main: ModelOutput, second: ModelOutput) -> ModelOutput:
        """The strategy's output from the two branches, with the extra outputs its training loss takes."""
        cfg = self.config
        if cfg.debias == "bias-only":
            return ModelOutput([gate_by_bias(x, y) for x, y in zip(main.masks, second.masks, strict=True)],
                               [gate_by_bias(x, y) for x, y in zip(main.classes, second.classes, strict=True)],
                               main.active, bias=second, main_branch=main, second_branch=second)
        contrasted = lambda x, y: contrast(x, y, cfg.debias_alpha)  # noqa: E731
        if self.training and cfg.debias_loss in ("supervised-bias", "supervised-prior", "poe"):
            held = ModelOutput([m.detach() for m in second.masks], [c.detach() for c in second.classes], second.active)
            # PoE trains on the sum of the experts' logits; supervised-bias on the contrast; d stop-gradient
            combined = _query_combine(main, held, (lambda x, y: x + y) if cfg.debias_loss == "poe" else contrasted)
            return dataclasses.replace(combined, bias=second, main_branch=main, second_branch=second)
        # the official loss also takes L(main), the contrast's own loss weighted 10
        extra = {"main": main, "loss_weight": 10.0} if self.training and cfg.debias_loss == "official" else {}
        return dataclasses.replace(_query_combine(main, second, contrasted), main_branch=main, second_branch=second,
                                   **extra)

    def _track_feature_scale(self, features: torch.Tensor) -> None:
        """Running per-dimension root mean square of ``F_A``: zero-mean noise at this scale has the norm of
        the features (``E|eps|^2 = E|F_A|^2``), where unit noise was 10 times larger."""
        with torch.no_grad():
            rms = features.detach().float().pow(2).mean(0).sqrt()
            if not bool(self.feature_rms.gt(0).any()):
                self.feature_rms.copy_(rms)
            else:
                self.feature_rms.mul_(0.99).add_(0.01 * rms)

    def _noise_scale(self, features: torch.Tensor) -> torch.Tensor | float:
        if self.config.noise_scale == "unit" or not bool(self.feature_rms.gt(0).any()):
            return 1.0
        return self.feature_rms.to(features.device, features.dtype)

    def _distorted(self, features: torch.Tensor, generator: torch.Generator | None,
                   clip_index: torch.Tensor | None = None) -> torch.Tensor:
        """``[D, B, C]``: the audio features after the closed-form forward process. Training: one draw, ``t``
        per clip (rows with one ``clip_index`` share it; without it, per row). Inference: the preset's ``t``
        and ``noise_draws`` fixed seeded noise vectors, the same for every clip."""
        cfg = self.config
        preset = NOISE_PRESETS[cfg.noise_preset]
        bars = alpha_bars(int(preset["steps"]))  # type: ignore[arg-type]
        b = features.shape[0]
        scale = self._noise_scale(features)
        if self.training:
            if clip_index is None:
                clip_index = torch.arange(b)
            clips, inverse = torch.unique(clip_index.cpu(), return_inverse=True)
            t = torch.randint(0, bars.shape[0], (clips.shape[0],), generator=generator)[inverse]
            noise = torch.randn(features.shape, generator=generator).to(features.device, features.dtype) * scale
            return distort(features, bars[t].to(features.device), noise)[None]
        t_test = preset["inference_t"]
        bar = torch.zeros(b, dtype=torch.float64) if t_test is None else bars[int(t_test)].expand(b)  # type: ignore[call-overload]
        return torch.stack([
            distort(features, bar.to(features.device),
                    fixed_noise(features.shape[-1], cfg.noise_seed + k, features.device).expand_as(features) * scale)
            for k in range(cfg.noise_draws)])

    def foreground(self, output: ModelOutput) -> torch.Tensor:
        """``[B, h, w]`` sounding-object probability from the final prediction (with ``contrast_on=
        "foreground"``, the contrast of the two branches' foreground logits; with ``"foreground-main-marks"``
        the second branch's foreground sums only the queries the main branch's marks made active)."""
        cfg = self.config
        if cfg.contrast_on != "queries" and output.second_branch is not None and cfg.debias == "uncertainty":
            main_branch: ModelOutput = output.main_branch  # type: ignore[assignment]
            second_branch = output.second_branch
            if cfg.contrast_on == "foreground-main-marks":  # the official readout: the main branch's gating
                second_branch = dataclasses.replace(second_branch, active=second_branch.active & main_branch.active)
            main = self._branch_foreground(main_branch, readout=foreground_logit)
            second = self._branch_foreground(second_branch, readout=foreground_logit)
            return contrast(main, second, cfg.debias_alpha).sigmoid()
        return self._branch_foreground(output)

    def _branch_foreground(self, output: ModelOutput, readout: Callable[..., torch.Tensor] = foreground_probability,
                           ) -> torch.Tensor:
        """One branch's final prediction read out by ``readout`` (the probability, or its exact logit)."""
        active = output.active
        if self.config.mute_unmarked_zeroth and self.config.active_queries:
            active = active.clone()
            active[:, 0] &= active[:, 1:].any(dim=1)
        return readout(output.masks[-1], output.classes[-1], active)


def _query_combine(main: ModelOutput, second: ModelOutput,
                   combine: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> ModelOutput:
    """``combine(m, d)`` (the contrast ``(alpha + 1) m - alpha d``, or PoE's ``m + d``) for every query active
    in both branches; where the second branch has the query dormant the main logits stay, and the main
    branch's dormant queries keep their filler."""
    both = main.active & second.active

    def mix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        where = both.view(*both.shape, *([1] * (x.dim() - 2)))
        return torch.where(where, combine(x, y), x)

    return ModelOutput([mix(x, y) for x, y in zip(main.masks, second.masks, strict=True)],
                       [mix(x, y) for x, y in zip(main.classes, second.classes, strict=True)], main.active)
