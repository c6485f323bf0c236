"""Audio features as AVS models take them, computed from the *probed* waveform (so every probe acts before
the frontend): VGGish log-mel examples, VGGish 128-d embeddings, and the released-embedding post-processing.

Three input families (``InputSpec.audio``):

* ``"waveform"``: ``float32 [B, N]`` mono at the spec's rate (no features);
* ``"vggish_logmel"``: ``float32 [B, T, 1, 96, 64]``, the AVSBench ``audio_log_mel`` pickle layout and
  frontend (the fast float32 path, within 1e-5 of the reference), with the spec's short-clip policy;
* ``"vggish_embedding"``: ``float32 [B, T, 128]`` from the VGGish network with converted weights
  (``InputSpec.vggish_weights``: the usual ``vggish-10086976.pth`` state dict, loaded weights-only); with a
  PCA parameter file (``InputSpec.vggish_pca``: ``vggish_pca_params-970ea276.pth``) the embeddings are
  post-processed as the released AudioSet embeddings are: PCA, clipped to [-2, 2], quantised to 0..255.

``"precomputed"`` declares an adapter that reads its own features from disk: it cannot be probed (its audio
never changes), and ``models check`` and ``run`` refuse it with that reason.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from avsprobe.audio.vggish import vggish_examples
from avsprobe.audio.vggish_net import load_vggish
from avsprobe.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

__all__ = ["AudioInput", "AUDIO_INPUTS", "NOT_PROBEABLE", "audio_features", "load_pca_params", "postprocess_embeddings"]

AudioInput = Literal["waveform", "vggish_logmel", "vggish_embedding", "precomputed"]
AUDIO_INPUTS: tuple[str, ...] = ("waveform", "vggish_logmel", "vggish_embedding", "precomputed")

NOT_PROBEABLE = ("reads precomputed audio features from disk, so no probe can change what it hears; declare "
                 "InputSpec.audio 'vggish_logmel' or 'vggish_embedding' (computed by avsprobe from the probed "
                 "waveform) and use batch.audio_features")
"""Why an ``audio="precomputed"`` adapter is refused (after its name, or "the adapter")."""

QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0
"""The released AudioSet embeddings' clipping range before 8-bit quantisation."""


@lru_cache(maxsize=2)
def _vggish(path: str, mtime_ns: int) -> torch.nn.Module:
    return load_vggish(path)


@lru_cache(maxsize=2)
def load_pca_params(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(eigen_vectors [128, 128], means [128, 1])`` from a torchvggish PCA parameter file.

    The file holds numpy arrays, which ``torch.load(weights_only=True)`` refuses by default; only numpy's
    array reconstruction is allowed for it here, so no other code can run.

    Raises:
        DataError: missing, not that layout, or wrong shapes.
    """
    import numpy as np
    import torch

    p = Path(path)
    if not p.is_file():
        raise DataError(f"VGGish PCA parameters {p} not found")
    allowed = [np.ndarray, np.dtype, type(np.dtype(np.float64))]
    reconstruct = getattr(np, "_core", np.core).multiarray._reconstruct  # type: ignore[attr-defined]
    try:
        with torch.serialization.safe_globals([reconstruct, *allowed]):
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # an untrusted or corrupt file
        raise DataError(f"{p} is not a weights-only VGGish PCA parameter file: {exc}") from None
    try:
        vectors = torch.as_tensor(np.asarray(state["pca_eigen_vectors"]), dtype=torch.float32)
        means = torch.as_tensor(np.asarray(state["pca_means"]), dtype=torch.float32).reshape(-1, 1)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{p} lacks pca_eigen_vectors / pca_means: {exc}") from None
    if vectors.shape != (128, 128) or means.shape != (128, 1):
        raise DataError(f"{p}: expected eigen vectors [128, 128] and means [128], got {list(vectors.shape)} and "
                        f"{list(means.shape)}")
    return vectors, means


def postprocess_embeddings(embeddings: torch.Tensor, pca_path: str | Path) -> torch.Tensor:
    """``[..., 128]`` raw VGGish embeddings -> the released form: PCA (``V (e - m)``), clipped to [-2, 2],
    quantised to 0..255 (returned as float32 values 0..255, as models read them)."""
    import torch

    vectors, means = load_pca_params(str(pca_path))
    flat = embeddings.reshape(-1, 128).to(torch.float32)
    projected = (vectors.to(flat.device) @ (flat.T - means.to(flat.device))).T
    clipped = projected.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
    quantised = torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))
    return quantised.reshape(embeddings.shape)


def audio_features(waveforms: object, spec: object, frames_per_clip: int, device: str = "cpu"
                   ) -> torch.Tensor | None:
    """The features ``spec.audio`` asks for, of 16 kHz ``waveforms`` (``[B, N]`` or a list of ``[N_i]``
    arrays), computed on ``device``; None for ``"waveform"``.

    Raises:
        ConfigError: an unknown family, ``"precomputed"``, or embeddings without weights.
    """
    import torch

    kind = getattr(spec, "audio", "waveform")
    if kind == "waveform":
        return None
    if kind == "precomputed":
        raise ConfigError(f"this adapter {NOT_PROBEABLE}")
    if kind not in AUDIO_INPUTS:
        raise ConfigError(f"unknown InputSpec.audio {kind!r}; use one of {', '.join(AUDIO_INPUTS)}")
    log_mel = vggish_examples(waveforms, num_examples=frames_per_clip, short_policy=spec.short_policy,  # type: ignore[attr-defined,arg-type]
                              device=device, precision="float32")  # [B, T, 1, 96, 64]
    if kind == "vggish_logmel":
        return log_mel
    weights = getattr(spec, "vggish_weights", None)
    if not weights:
        raise ConfigError("audio='vggish_embedding' needs InputSpec.vggish_weights (the converted "
                          "vggish-10086976.pth)")
    path = Path(weights)
    net = _vggish(str(path), path.stat().st_mtime_ns if path.is_file() else -1).to(device)
    b, t = log_mel.shape[:2]
    with torch.no_grad():
        embeddings = net(log_mel.reshape(b * t, 1, 96, 64)).reshape(b, t, 128)
    pca = getattr(spec, "vggish_pca", None)
    return postprocess_embeddings(embeddings, pca) if pca else embeddings
