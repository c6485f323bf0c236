"""Training the reference model on an AVSS-layout tree (by default the cached bias lab).

Recipe: the perception module is fitted on the train split first and frozen; then AdamW trains the rest with
two learning rates (parameters named ``adapter`` at ``lr_adapters``, everything else at ``lr``; the ``tiny``
backbone trains from scratch and has no adapters). Every epoch ends with canonical mIoU on ``val`` (original
audio); the best epoch on val is kept, the test split is never read. The run is resumable: ``last.*`` holds the
optimiser state and the epoch reached, and a rerun with the same settings continues from there.

Output folder: ``model.safetensors`` + ``config.json`` (the best epoch: what the adapters load) and
``last.safetensors`` + ``last.json`` (resume state).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avsprobe._version import __version__
from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.data.palette import AVSS_CLASSES
from avsprobe.devices import check_device
from avsprobe.distributed import join_process_group
from avsprobe.errors import ConfigError, DataError
from avsprobe.fileio import atomic_write_text
from avsprobe.metrics.binary import BinaryFrameStats, binary_frame_stats, canonical_miou
from avsprobe.reference.audio import log_mel_descriptor
from avsprobe.reference.checkpoint import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_tensors,
    save_checkpoint,
    save_tensors,
)
from avsprobe.reference.config import ReferenceConfig, get_config
from avsprobe.reference.criterion import SetCriterion, targets_from_labels
from avsprobe.reference.data import FrameData, load_frames
from avsprobe.reference.inference import foreground_logits, normalise_frames
from avsprobe.reference.model import ReferenceModel
from avsprobe.seeding import rng_for

__all__ = ["RECIPES", "TrainSettings", "train", "evaluate_miou", "build_config"]

_VANILLA: dict[str, Any] = {"active_queries": False, "interaction_enhancement": False, "drop_dominant": False,
                            "prompt": "add"}
RECIPES: dict[str, dict[str, Any]] = {
    # a Mask2Former AVS baseline: audio added to every query, all queries interact, no dropping
    "vanilla": _VANILLA,
    # the paper's method without the debias strategy
    "ours-nodebias": {},
    # the paper's method with a debias strategy (TrainSettings.debias; uncertainty by default)
    "ours": {},
    # the vanilla baseline trained with the uncertainty strategy (the paper's Table 4: the strategy on another
    # architecture, judged against that architecture's own vanilla); its loss is TrainSettings.debias_loss
    "vanilla-debias": {**_VANILLA, "debias": "uncertainty"},
    # the logits-ensemble's separately trained visual-only model: the vanilla recipe without audio
    "visual-only": {**_VANILLA, "visual_only": True},
}
"""Config overrides per trainable model name (on top of the variant)."""

DEBIAS_LOSSES = ("paper", "official", "supervised-bias", "supervised-prior", "poe")

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training run depends on (recorded in the checkpoint; resuming requires equal settings)."""

    model: str = "ours-nodebias"
    variant: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    epochs: int = 14
    batch_size: int = 32
    lr: float = 1e-3
    lr_adapters: float = 1e-4
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    data: str | None = None  # None: the cached default bias lab
    debias: str = "uncertainty"  # strategy of the "ours" model (ignored by the others)
    debias_loss: str = "paper"  # training loss with uncertainty: one of DEBIAS_LOSSES
    device: str = "cpu"
    amp: bool = True  # bfloat16 autocast on CUDA (no effect on CPU)
    phi_negatives: bool = False  # fit Phi with silence, beds and noise labelled "no class" (world v3's recipe)


def build_config(settings: TrainSettings, num_classes: int) -> ReferenceConfig:
    """The model's config: variant, recipe, class count, then explicit overrides.

    ``ours --debias logits-ensemble`` trains the ensemble's visual-only part (its main part is
    ``ours-nodebias``), so it takes the ``visual-only`` recipe and is marked ``debias="logits-ensemble"``.
    """
    if settings.model not in RECIPES:
        raise ConfigError(f"unknown trainable model {settings.model!r}; known: {', '.join(RECIPES)}")
    recipe = dict(RECIPES[settings.model])
    if settings.model == "ours":
        if settings.debias not in ("uncertainty", "bias-only", "logits-ensemble"):
            raise ConfigError(f"unknown debias strategy {settings.debias!r}; use uncertainty, bias-only or logits-ensemble")
        recipe = {**RECIPES["visual-only"]} if settings.debias == "logits-ensemble" else recipe
        recipe["debias"] = settings.debias
    if recipe.get("debias") == "uncertainty":
        if settings.debias_loss not in DEBIAS_LOSSES:
            raise ConfigError(f"unknown debias loss {settings.debias_loss!r}; use {', '.join(DEBIAS_LOSSES)}")
        recipe["debias_loss"] = settings.debias_loss
        if settings.debias_loss == "poe":
            recipe["debias_alpha"] = 0.0  # product of experts: the main branch alone at inference
    return get_config(settings.variant, **{**recipe, "num_classes": num_classes, **settings.overrides})


def _classes_of(root: Path) -> tuple[str, ...]:
    if (root / "world.json").is_file():
        from avsprobe.data.biaslab.reader import BiasLabWorld

        return tuple(BiasLabWorld(root).training_sounding_frequency())

    return tuple(AVSS_CLASSES[1:])


def _optimiser(model: ReferenceModel, settings: TrainSettings) -> torch.optim.Optimizer:
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad and not n.startswith("perception.")]
    adapters = [p for n, p in trainable if "adapter" in n]
    rest = [p for n, p in trainable if "adapter" not in n]
    groups = [{"params": rest, "lr": settings.lr, "name": "rest"}]
    if adapters:
        groups.append({"params": adapters, "lr": settings.lr_adapters, "name": "adapters"})
    return torch.optim.AdamW(groups, weight_decay=settings.weight_decay)


def evaluate_miou(model: ReferenceModel, data: FrameData, *, batch_size: int = 64, device: str = "cpu") -> float:
    """Canonical mIoU (empty ground truth: 1 if nothing is predicted) of ``model`` on every frame of ``data``."""
    model.eval()
    parts = []
    out_size = tuple(data.labels.shape[-2:])
    for start in range(0, len(data), batch_size):
        sl = slice(start, start + batch_size)
        frames = normalise_frames(data.frames[sl].to(device), IMAGENET_MEAN, IMAGENET_STD)
        logits = foreground_logits(model, frames, data.log_mel[sl].to(device), out_size).cpu()  # type: ignore[arg-type]
        parts.append(binary_frame_stats(logits, data.labels[sl] > 0))
    return canonical_miou(BinaryFrameStats.concat(parts))


def _settings_record(settings: TrainSettings) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(settings), sort_keys=True))


def _resume(out: Path, settings: TrainSettings, model: ReferenceModel, optimiser: torch.optim.Optimizer
            ) -> dict[str, Any] | None:
    state_file = out / "last.json"
    if not state_file.is_file():
        return None
    state = json.loads(state_file.read_text())
    ours, theirs = _settings_record(settings), dict(state["settings"])
    for key in ("epochs", "device", "amp"):  # more epochs extend a run; it may continue on another device
        ours.pop(key)
        theirs.pop(key, None)
    if ours != theirs:
        changed = sorted(k for k in ours if ours[k] != theirs.get(k))
        raise ConfigError(f"{out} holds a run with other settings ({', '.join(changed)} differ, see {state_file}); "
                          "use another --out or --force")
    tensors = load_tensors(out / "last.safetensors")
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    optim_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim_state.setdefault(int(index), {})[name] = value
    groups = optimiser.state_dict()["param_groups"]
    optimiser.load_state_dict({"state": optim_state, "param_groups": groups})
    return state


def _save_last(out: Path, settings: TrainSettings, model: ReferenceModel, optimiser: torch.optim.Optimizer,
               record: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for index, state in optimiser.state_dict()["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    save_tensors(out / "last.safetensors", tensors)
    atomic_write_text(out / "last.json", json.dumps({"settings": _settings_record(settings), **record}, indent=2) + "\n")


def _build_model(config: ReferenceConfig, seed: int) -> ReferenceModel:
    # module initialisation draws from torch's global generator: fork it so training never depends on (or
    # changes) the caller's random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ReferenceModel(config)


def _distributed(device: str) -> tuple[int, int, str]:
    """``(rank, world_size, device)``; under ``torchrun`` (``WORLD_SIZE > 1``) the process group is joined
    here (NCCL on CUDA, gloo on CPU) and each process takes ``cuda:LOCAL_RANK``."""
    return join_process_group(device)


def _parameter_digest(model: torch.nn.Module) -> str:
    """sha256 of the parameters (not the buffers: each DDP replica keeps BatchNorm statistics of its own shard)."""
    digest = hashlib.sha256()
    for name, value in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class _TrainRun:
    """Everything one training call holds between its stages."""

    settings: TrainSettings
    out: Path
    rank: int
    world: int
    device: str
    root: Path
    classes: tuple[str, ...]
    config: ReferenceConfig
    train_data: FrameData
    val_data: FrameData
    model: ReferenceModel
    net: torch.nn.Module
    optimiser: torch.optim.Optimizer
    criterion: SetCriterion
    targets: Any
    perception_fit: dict[str, float]
    history: list[dict[str, Any]]
    best: dict[str, Any]
    steps_per_epoch: int
    report: ProgressFn | None
    clip_number: torch.Tensor  # long [M]: the clip of each train frame (frames of a clip share the noise step)

    @property
    def amp(self) -> bool:
        return self.settings.amp and self.device.startswith("cuda")

    def meta(self) -> dict[str, Any]:
        return _meta(self.settings, self.classes, self.root, self.history, self.best, self.perception_fit)


def train(settings: TrainSettings, out: str | Path, *, on_progress: ProgressFn | None = None,
          on_epoch: Callable[[dict[str, Any]], None] | None = None, workers: int | None = None,
          max_steps: int | None = None) -> dict[str, Any]:
    """Train one model; returns the training record (also in ``out/config.json``).

    Stages: load the data, build the model (fit and freeze Φ, resume), then per epoch train and validate
    (keeping the best epoch), then write the final record. Under ``torchrun`` each process trains on its share
    of every batch with DistributedDataParallel; rank 0 validates and writes the checkpoints. On CUDA the
    forward runs under bfloat16 autocast when ``settings.amp`` is set.

    Args:
        settings: the recipe.
        out: checkpoint folder (created; an unfinished run with the same settings is resumed).
        on_progress: ``(stage, done, total)`` for loading and training.
        on_epoch: called with each epoch's record (loss, val mIoU, seconds).
        workers: processes for loading the data.
        max_steps: stop each epoch after this many steps (tests).
    """
    started = time.perf_counter()
    run = _set_up(settings, Path(out), on_progress, workers, max_steps)
    for epoch in range(len(run.history), settings.epochs):
        record = _train_epoch(run, epoch)
        _end_epoch(run, record, on_epoch)
    meta = run.meta()
    if run.rank == 0:
        _update_meta(run.out, meta)
    if run.world > 1:
        torch.distributed.barrier()
    meta["training_seconds_this_call"] = round(time.perf_counter() - started, 1)
    meta["parameter_digest"] = _parameter_digest(run.model)
    return meta


PHI_NEGATIVE_CLIPS = 20
"""Clips of each negative condition Phi is fitted with (``phi_negatives``): 8 conditions x 20 clips x 5 s."""


def _fit_perception(model: Any, train_data: Any, settings: TrainSettings) -> dict[str, float]:
    """Fit Phi on the train frames' descriptors (and, with ``phi_negatives``, on negative audio labelled
    "no class": :mod:`avsprobe.reference.phi_negatives`)."""
    import torch

    descriptors, presence = log_mel_descriptor(train_data.log_mel), train_data.presence
    if settings.phi_negatives:
        from avsprobe.reference.phi_negatives import negative_log_mel

        negatives, _ = negative_log_mel(5, PHI_NEGATIVE_CLIPS, settings.seed)
        descriptors = torch.cat([descriptors, log_mel_descriptor(negatives)])
        presence = torch.cat([presence, torch.zeros(len(negatives), presence.shape[1], dtype=presence.dtype)])
    return model.perception.fit(descriptors, presence, seed=settings.seed)


def _load_data(settings: TrainSettings, frame_size: int, root: Path, classes: tuple[str, ...],
               report: ProgressFn | None, workers: int | None) -> tuple[FrameData, FrameData]:
    loaded = {split: load_frames(root, split, classes, frame_size, workers=workers,
                                 on_progress=(lambda d, t, s=split: report(f"loading {s}", d, t)) if report else None)
              for split in ("train", "val")}
    return loaded["train"], loaded["val"]


def _set_up(settings: TrainSettings, out: Path, on_progress: ProgressFn | None, workers: int | None,
            max_steps: int | None) -> _TrainRun:
    """Data, model with Φ fitted and frozen, optimiser, resume state and (under torchrun) DDP."""
    check_device(settings.device)
    rank, world, device = _distributed(settings.device)
    root = Path(settings.data) if settings.data else ensure_default_world(None)
    if not root.is_dir():
        raise DataError(f"training data folder {root} does not exist")
    classes = _classes_of(root)
    config = build_config(settings, len(classes))
    report = on_progress if rank == 0 else None
    train_data, val_data = _load_data(settings, config.frame_size, root, classes, report, workers)
    model = _build_model(config, settings.seed)
    perception_fit = _fit_perception(model, train_data, settings) if config.active_queries else {}
    for p in model.perception.parameters():
        p.requires_grad_(False)
    optimiser = _optimiser(model, settings)
    state = _resume(out, settings, model, optimiser)
    model.to(device)
    _optimiser_to(optimiser, device)
    net: torch.nn.Module = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    mask_size = (config.frame_size // 4, config.frame_size // 4)
    steps = int(np.ceil(len(train_data) / settings.batch_size))
    return _TrainRun(settings, out, rank, world, device, root, classes, config, train_data, val_data, model, net,
                     optimiser, SetCriterion(config), targets_from_labels(train_data.labels, config.num_classes, mask_size),
                     perception_fit, state["history"] if state else [],
                     state["best"] if state else {"epoch": -1, "val_miou": -1.0},
                     min(steps, max_steps) if max_steps is not None else steps, report,
                     torch.from_numpy(np.unique(np.asarray(train_data.clip_ids), return_inverse=True)[1].reshape(-1)))


def _train_epoch(run: _TrainRun, epoch: int) -> dict[str, Any]:
    """One pass over the train split (each rank on its share of every batch); the epoch's record."""
    settings, data = run.settings, run.train_data
    epoch_start = time.perf_counter()
    run.net.train()
    run.model.perception.eval()
    order = torch.from_numpy(rng_for(settings.seed, "epoch", epoch).permutation(len(data)))
    generator = torch.Generator().manual_seed(int(rng_for(settings.seed, "drop", epoch, run.rank).integers(2**62)))
    total_steps = run.steps_per_epoch * settings.epochs
    losses = []
    for step in range(run.steps_per_epoch):
        idx = order[step * settings.batch_size : (step + 1) * settings.batch_size][run.rank :: run.world]
        frames = normalise_frames(data.frames[idx].to(run.device), IMAGENET_MEAN, IMAGENET_STD)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=run.amp):
            output = run.net(frames, data.log_mel[idx].to(run.device), generator=generator,
                             clip_index=run.clip_number[idx])
        targets = run.targets
        batch_targets = dataclasses.replace(targets, classes=targets.classes[idx].to(run.device),
                                            masks=targets.masks[idx].to(run.device), valid=targets.valid[idx].to(run.device))
        if run.config.debias_loss == "supervised-prior" and run.config.debias == "uncertainty":
            # the second branch learns from the frames whose audio names no class (Phi's labels): P(sounding | V)
            batch_targets.bias_rows = ~data.presence[idx].any(-1).to(run.device)
        loss, _ = run.criterion(output, batch_targets, generator)
        run.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), settings.grad_clip)
        run.optimiser.step()
        losses.append(float(loss.detach()))
        if run.report:
            run.report("training", epoch * run.steps_per_epoch + step + 1, total_steps)
    return {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_miou": None,
            "seconds": round(time.perf_counter() - epoch_start, 2)}


def _end_epoch(run: _TrainRun, record: dict[str, Any], on_epoch: Callable[[dict[str, Any]], None] | None) -> None:
    """Rank 0 validates, keeps the best epoch as the checkpoint and saves the resume state."""
    if run.rank != 0:
        run.history.append(record)
        return
    record["val_miou"] = evaluate_miou(run.model, run.val_data, device=run.device)
    run.history.append(record)
    if record["val_miou"] > run.best["val_miou"]:
        run.best = {"epoch": record["epoch"], "val_miou": record["val_miou"]}
        save_checkpoint(run.out, run.model, run.meta())
    _save_last(run.out, run.settings, run.model, run.optimiser, {"history": run.history, "best": run.best})
    if on_epoch:
        on_epoch(record)


def _optimiser_to(optimiser: torch.optim.Optimizer, device: str) -> None:
    for state in optimiser.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                state[key] = value.to(device)


def _meta(settings: TrainSettings, classes: tuple[str, ...], root: Path, history: list[dict[str, Any]],
          best: dict[str, Any], perception_fit: dict[str, float]) -> dict[str, Any]:

    return {"model": settings.model, "classes": list(classes), "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
            "training": {"settings": _settings_record(settings), "data": str(root), "history": history, "best": best,
                         "perception_fit": perception_fit, "avsprobe_version": __version__}}


def _update_meta(out: Path, meta: dict[str, Any]) -> None:
    """Refresh the training record in ``config.json`` (the weights stay those of the best epoch)."""
    config_file = out / "config.json"
    if not config_file.is_file():
        return
    record = json.loads(config_file.read_text())
    record.update({k: v for k, v in meta.items() if k != "config"})
    atomic_write_text(config_file, json.dumps(record, indent=2, sort_keys=True) + "\n")
