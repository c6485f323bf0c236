"""``avsprobe train``: train a reference model (tiny variant on the bias lab by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console
from avsprobe.cli.options import DataDir


def train_command(
    model: Annotated[str, typer.Option("--model", "-m", help="What to train: vanilla, ours-nodebias, ours, vanilla-debias (vanilla with the uncertainty strategy) or visual-only.")],
    debias: Annotated[str, typer.Option("--debias", help="Strategy of 'ours': uncertainty, bias-only or logits-ensemble.")] = "uncertainty",
    loss: Annotated[str, typer.Option("--loss", help="Training loss of an uncertainty model (ours, vanilla-debias): paper (Eq. 14), official (L(main) + 10 L(contrast)), supervised-bias, supervised-prior or poe (departures: docs/reference-model.md).")] = "paper",
    data: DataDir = None,
    epochs: Annotated[int, typer.Option("--epochs", "-e", min=1, help="Epochs over the train split.")] = 14,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Checkpoint folder (default: checkpoints/MODEL).")] = None,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of initialisation, shuffling and dropping.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Frames per step.")] = 32,
    variant: Annotated[str, typer.Option("--variant", help="Config variant (tiny).")] = "tiny",
    device: Annotated[str, typer.Option("--device", help="torch device (under torchrun, cuda means cuda:LOCAL_RANK).")] = "cpu",
    force: Annotated[bool, typer.Option("--force", help="Start afresh: remove the checkpoint and training state in OUT (only those; a folder without them is refused).")] = False,
    phi_negatives: Annotated[bool, typer.Option("--phi-negatives", help="Fit the perception module Phi with silence, beds (-90 to -50 LUFS) and noise labelled 'no class'.")] = False,
) -> None:
    """Train a reference model; the best epoch on val is kept and an interrupted run resumes."""
    from avsprobe.cli.progress import staged_progress
    from avsprobe.reference.checkpoint import clear_training_folder
    from avsprobe.reference.train import TrainSettings, train

    target = out or Path("checkpoints") / model
    if force:
        clear_training_folder(target)
    settings = TrainSettings(model=model, variant=variant, epochs=epochs, batch_size=batch_size, seed=seed,
                             data=str(data) if data else None, debias=debias, debias_loss=loss, device=device,
                             phi_negatives=phi_negatives)
    printer = console.stdout()

    def on_epoch(record: dict) -> None:
        printer.print(f"epoch {record['epoch'] + 1}/{epochs}: loss {record['train_loss']:.3f}, "
                      f"val mIoU {record['val_miou']:.4f} ({record['seconds']:.0f} s)")

    with staged_progress() as on_progress:
        meta = train(settings, target, on_progress=on_progress, on_epoch=on_epoch)
    best = meta["training"]["best"]
    printer.print(f"best val mIoU {best['val_miou']:.4f} at epoch {best['epoch'] + 1}; checkpoint in [bold]{target}[/]")
