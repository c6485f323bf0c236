"""Checking a ``--device`` string before any work starts, so a missing GPU is one clear line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from avsprobe.errors import ConfigError

__all__ = ["check_device", "exact_float32", "resolve_device"]


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` when torch sees a CUDA device, else ``cpu``; any other string as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str) -> str:
    """``device`` if torch can use it here.

    Raises:
        ConfigError: not a torch device string, or a CUDA/MPS device this machine lacks (with what it has).
    """
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"--device {device!r} is not a torch device; use cpu, cuda, cuda:1, ...") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: this torch has no CUDA device (torch {torch.__version__}, "
                              f"built {'with' if torch.backends.cuda.is_built() else 'without'} CUDA); use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device}: MPS is not available here; use --device cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {device}: avsprobe runs on cpu, cuda or mps")
    return device


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """While a model predicts: float32 convolutions and matrix products in full precision (no TF32) with
    deterministic cuDNN algorithms, then the previous settings back. On Ampere and later GPUs cuDNN convolutions
    run in TF32 by default: the bundled models' logits then moved by up to 7.5e-3 between a clip alone and the
    same clip in a batch of two (H200), where a score must not depend on how clips were batched. No effect on
    the CPU."""
    import torch

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    tf32_matmul = matmul.allow_tf32
    matmul.allow_tf32 = False
    try:
        with cudnn.flags(enabled=cudnn.enabled, benchmark=False, deterministic=True, allow_tf32=False):
            yield
    finally:
        matmul.allow_tf32 = tf32_matmul
