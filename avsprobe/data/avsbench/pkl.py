"""Safe loading of AVSBench's pickled log-mel features (``audio_log_mel/*.pkl``), and conversion to ``.npy``.

The reference preprocessing wrote each ``[5, 1, 96, 64]`` float32 tensor with plain ``pickle.dump``. Such a
pickle calls ``torch._utils._rebuild_tensor_v2`` on a storage rebuilt by ``torch.storage._load_from_bytes``
(which runs ``torch.load(..., weights_only=False)`` on an embedded legacy blob) and an empty
``collections.OrderedDict`` of backward hooks. The restricted unpickler here admits exactly those three
names, and replaces ``_load_from_bytes`` by a ``torch.load(..., weights_only=True)`` of the same blob, so
no code in the file can run. Anything else is refused with a :class:`DataError` naming the file.
"""

from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path

import numpy as np

from avsprobe.errors import DataError
from avsprobe.fileio import atomic_path

__all__ = ["load_log_mel_pkl", "load_log_mel", "convert_pkl_tree"]


def _storage_from_bytes(blob: bytes) -> object:
    import torch

    return torch.load(io.BytesIO(blob), weights_only=True)


class _TensorOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        import torch

        allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
            ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
            ("collections", "OrderedDict"): collections.OrderedDict,
        }
        try:
            return allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def load_log_mel_pkl(path: str | Path) -> np.ndarray:
    """Read an AVSBench log-mel ``.pkl`` as ``float32 [n, 1, 96, 64]`` (contiguous, detached).

    Raises:
        DataError: missing file, a pickle that references anything but a torch tensor, or a wrong shape.
    """
    import torch

    p = Path(path)
    try:
        with open(p, "rb") as f:
            obj = _TensorOnlyUnpickler(f).load()
    except FileNotFoundError:
        raise DataError(f"log-mel file not found: {p}") from None
    except Exception as exc:  # unpickling raises many types; all mean "not a safe tensor pickle"
        raise DataError(f"{p} is not a plain tensor pickle, refused: {exc}") from None
    if not isinstance(obj, torch.Tensor):
        raise DataError(f"{p} holds a {type(obj).__name__}, not a tensor")
    array = obj.detach().contiguous().to(torch.float32).numpy()
    if array.ndim != 4 or array.shape[1:] != (1, 96, 64):
        raise DataError(f"{p}: expected log-mel [n, 1, 96, 64], got {list(array.shape)}")
    return array


def load_log_mel(path: str | Path) -> np.ndarray:
    """``float32 [n, 1, 96, 64]`` from a ``.npy`` (no pickles allowed) or a reference ``.pkl``."""
    p = Path(path)
    if p.suffix != ".npy":
        return load_log_mel_pkl(p)
    try:
        array = np.load(p, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read log-mel file {p}: {exc}") from None
    if array.ndim != 4 or array.shape[1:] != (1, 96, 64):
        raise DataError(f"{p}: expected log-mel [n, 1, 96, 64], got {list(array.shape)}")
    return array


def convert_pkl_tree(root: str | Path) -> list[Path]:
    """Write ``x.npy`` beside every ``x.pkl`` below ``root`` (atomically); return the written paths."""
    written = []
    for pkl in sorted(Path(root).rglob("*.pkl")):
        target = pkl.with_suffix(".npy")
        array = load_log_mel_pkl(pkl)
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            np.save(f, array)
        written.append(target)
    return written
