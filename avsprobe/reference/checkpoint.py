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
from avsprobe.reference.config import LEGACY_DEFAULTS, ReferenceConfig
from avsprobe.reference.model import ReferenceModel

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "save_checkpoint", "load_checkpoint", "save_tensors", "load_tensors",
           "clear_training_folder"]

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


def _check_record(record: object, config_file: Path) -> None:
    """The keys a checkpoint's ``config.json`` must hold, each of the right kind."""
    if not isinstance(record, dict):
        raise DataError(f"{config_file}: expected a JSON object")
    if not isinstance(record.get("config"), dict):
        raise DataError(f"{config_file}: key 'config' (the model settings) is missing or not an object")
    for key in ("mean", "std"):
        value = record.get(key)
        if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value)):
            raise DataError(f"{config_file}: key {key!r} must be three numbers (per-channel frame {key}), got {value!r}")
    if any(v == 0 for v in record["std"]):
        raise DataError(f"{config_file}: key 'std' must not hold 0")
    classes = record.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise DataError(f"{config_file}: key 'classes' must be a non-empty list of class names")


def load_checkpoint(folder: str | Path, device: str = "cpu") -> tuple[ReferenceModel, dict[str, Any]]:
    """The model (in eval mode) and the JSON record of a checkpoint folder.

    Raises:
        DataError: a file is missing or unreadable, or the weights do not fit the config.
    """
    folder = Path(folder)
    config_file = folder / CONFIG_FILE
    if not config_file.is_file():
        raise DataError(f"{folder} is not a reference-model checkpoint: {config_file} is missing")
    try:
        record = json.loads(config_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{config_file} is not readable JSON ({exc})") from None
    _check_record(record, config_file)
    fields = {f.name for f in dataclasses.fields(ReferenceConfig)}
    try:
        saved = {k: v for k, v in record["config"].items() if k in fields}
        config = ReferenceConfig(**{**{k: v for k, v in LEGACY_DEFAULTS.items() if k not in saved}, **saved})
    except (TypeError, ConfigError) as exc:
        raise DataError(f"{config_file}: bad config: {exc}") from None
    model = ReferenceModel(config)
    state = load_tensors(folder / WEIGHTS_FILE)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(f"{folder / WEIGHTS_FILE} does not fit {config_file}: {exc}") from exc
    return model.to(device).eval(), record


TRAINING_FILES = (WEIGHTS_FILE, CONFIG_FILE, "last.json", "last.safetensors")
"""What ``avsprobe train`` writes into its folder (and all that ``--force`` may remove)."""


def clear_training_folder(folder: str | Path) -> None:
    """Remove a checkpoint and training state from ``folder`` (``train --force``), and nothing else.

    Raises:
        ConfigError: ``folder`` is not a folder, or holds no avsprobe checkpoint or training state (it is
            left untouched: ``--out .`` must never empty the working directory).
    """
    target = Path(folder)
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"{target} is a file, not a checkpoint folder; use another --out")
    ours = [target / name for name in TRAINING_FILES if (target / name).is_file()]
    if not ((target / WEIGHTS_FILE).is_file() and (target / CONFIG_FILE).is_file()) and not (target / "last.json").is_file():
        raise ConfigError(f"--force clears only a folder holding an avsprobe checkpoint or training state; {target} holds "
                          "neither, so it was left untouched. Use another --out")
    for path in ours:
        path.unlink()
