"""The contrastive debias strategies of the reference model (paper Sec. 4.4, supplement B.2 / D.4).

* ``uncertainty``: the audio features are distorted in closed form, ``x_t = sqrt(ab_t) x + sqrt(1 - ab_t) eps``
  with ``ab_t`` the cumulative product of ``1 - beta`` over a linear beta schedule (1e-4 to 0.02 over T
  steps). Final logits ``(alpha + 1) logits(V, A) - alpha logits(V, A_t)``. Presets: ``paper`` (T = 1000,
  pure noise ``x_t = eps`` at inference) and ``official`` (T = 100, ``t = 99`` at inference, as the
  authors' code).
* ``bias-only``: a joint visual-only branch (the same decoder with the audio prompt zeroed); final logits
  ``logits(V, A) * sigmoid(logits(V))``; the loss is L(final) + L(visual-only).
* ``logits-ensemble``: a separately trained visual-only model merged at inference,
  ``(alpha + 1) logits(V, A) - alpha logits_visual(V)`` on the foreground logits (two models' queries do
  not correspond, so the merge is on their outputs).

What the second branch sees (``ReferenceConfig``; the first release's choices are ``LEGACY_DEFAULTS``):

* Its marks are the fixed audio-free set, query 0 and every class query (``distorted_marks="all"``). The
  first release reused Phi(A) of the clean audio, and with interaction enhancement the marks decide which
  queries exist: the audio leaked into the "audio-free" branch and the contrast was close to the identity.
* The contrast runs per query active in both branches; a query the second branch has dormant keeps the main
  logits, and the main branch's dormant queries keep their filler (never ``(alpha + 1) m + 20 alpha``).
  ``contrast_on="foreground"`` contrasts the two branches' per-pixel foreground logits instead (inference).
* ``eps`` is drawn at the per-dimension RMS of ``F_A`` (a running estimate saved with the weights), so
  ``|eps|`` matches ``|F_A|``: unit noise was about 10 times larger, and nearly every training draw of the
  T = 1000 schedule was then pure noise. ``t`` is drawn per clip in training (frames of a clip share it);
  inference averages the second branch's logits over ``noise_draws`` fixed seeded draws, the same for
  every clip, so predictions stay deterministic and independent of batching.
* Training losses (``debias_loss``): ``paper`` (Eq. 14, the loss on the contrast only), ``official``
  (the authors' AVSS form, L(main) + 10 L(contrast)), and two documented departures: ``supervised-bias``
  (L(contrast with the second branch stop-gradient) + L(second branch)) and ``poe`` (product of experts,
  L(m + d stop-gradient) + L(d); inference is the main branch alone, alpha = 0).
"""

from __future__ import annotations

import torch

__all__ = ["alpha_bars", "distort", "contrast", "gate_by_bias", "NOISE_PRESETS", "fixed_noise"]

NOISE_PRESETS: dict[str, dict[str, object]] = {
    "paper": {"steps": 1000, "inference_t": None},  # None: pure noise at inference
    "official": {"steps": 100, "inference_t": 99},
}


def alpha_bars(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """``float64 [steps]``: cumulative products of ``1 - beta_t`` over a linear beta schedule (DDPM)."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0)


def distort(x: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``sqrt(ab) x + sqrt(1 - ab) noise`` for ``x [B, C]`` with ``alpha_bar [B]`` (one value per clip)."""
    ab = alpha_bar.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
    return ab.sqrt() * x + (1 - ab).sqrt() * noise


def contrast(main: torch.Tensor, distorted: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(alpha + 1) main - alpha distorted``."""
    return (alpha + 1) * main - alpha * distorted


def gate_by_bias(logits: torch.Tensor, bias_logits: torch.Tensor) -> torch.Tensor:
    """``logits * sigmoid(bias_logits)`` (the bias-only branch's gate)."""
    return logits * bias_logits.sigmoid()


def fixed_noise(dim: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The inference noise ``[dim]``: standard normal from its own generator (never global state)."""
    return torch.randn(dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float32).to(device)
