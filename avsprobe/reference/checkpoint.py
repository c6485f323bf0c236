"""Reference-model checkpoints: weights as safetensors and everything else as JSON, written atomically.

A checkpoint folder holds ``model.safetensors`` (the model, perception state included) and ``config.json``
(the :class:`ReferenceConfig`, class names, input normalisation, and the training record). No pickles: loading
a checkpoint never runs code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from avsprobe.errors import ConfigError, DataError
from avsprobe.fileio import atomic_path, atomic_write_text
from avsprobe.reference.config import ReferenceConfig
from avsprobe.reference.model import ReferenceModel

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "save_checkpoint", "load_checkpoint", "save_tensors", "load_tensors"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Atomic safetensors write (contiguous CPU copies)."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise DataError(f"checkpoint file {path} is missing")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise DataError(f"{path} is not a readable safetensors file: {exc}") from exc


def save_checkpoint(folder: str | Path, model: ReferenceModel, meta: dict[str, Any]) -> None:
    """Write ``model`` and ``meta`` (class names, training record, ...) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(folder / WEIGHTS_FILE, model.state_dict())
    record = {"config": dataclasses.asdict(model.config), **meta}
    atomic_write_text(folder / CONFIG_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def load_checkpoint(folder: str | Path, device: str = "cpu") -> tuple[ReferenceModel, dict[str, Any]]:
    """The model (in eval mode) and the JSON record of a checkpoint folder.

    Raises:
        DataError: a file is missing or unreadable, or the weights do not fit the config.
    """
    folder = Path(folder)
    config_file = folder / CONFIG_FILE
    if not config_file.is_file():
        raise DataError(f"{folder} is not a reference-model checkpoint: {config_file} is missing")
    record = json.loads(config_file.read_text())
    fields = {f.name for f in dataclasses.fields(ReferenceConfig)}
    try:
        config = ReferenceConfig(**{k: v for k, v in record["config"].items() if k in fields})
    except (TypeError, ConfigError) as exc:
        raise DataError(f"{config_file}: bad config: {exc}") from exc
    model = ReferenceModel(config)
    state = load_tensors(folder / WEIGHTS_FILE)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(f"{folder / WEIGHTS_FILE} does not fit {config_file}: {exc}") from exc
    return model.to(device).eval(), record
