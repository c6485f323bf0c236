"""Data-parallel runs: ``--shard I/N`` for job arrays, and ``torchrun`` ranks as shards.

Under ``torchrun`` (``WORLD_SIZE > 1``) every rank runs shard ``RANK/WORLD_SIZE`` of the clips, on
``cuda:LOCAL_RANK`` when the device asked for is CUDA, and joins a process group (NCCL on CUDA, gloo on CPU)
whose only collective is the barrier that ends the run, so every rank returns once all shards are written.
"""

from __future__ import annotations

import os
import re

from avsprobe.devices import check_device
from avsprobe.errors import ConfigError

__all__ = ["parse_shard", "distributed_shard", "join_process_group", "finish_distributed"]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"1/4"`` -> ``(1, 4)``; None stays None.

    Raises:
        ConfigError: not ``I/N`` with ``0 <= I < N``.
    """
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ConfigError(f"--shard {text!r}: use I/N with 0 <= I < N (shard 0/2 and 1/2 make a whole run)")
    return int(match.group(1)), int(match.group(2))


def distributed_shard(shard: tuple[int, int] | None, device: str) -> tuple[tuple[int, int] | None, str, bool]:
    """``(shard, device, joined)``: under torchrun the rank's shard and device, after joining the process
    group; otherwise what was given."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return shard, device, False
    if shard is not None:
        raise ConfigError("--shard cannot be combined with torchrun: each rank is already a shard")

    check_device(device)
    rank, world, device = join_process_group(device)
    return (rank, world), device, True


def join_process_group(device: str) -> tuple[int, int, str]:
    """``(rank, world_size, device)`` under torchrun after joining the process group (NCCL on CUDA, gloo on
    CPU), each process on ``cuda:LOCAL_RANK`` when ``device`` is CUDA; ``(0, 1, device)`` otherwise."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return 0, 1, device
    cuda = device.startswith("cuda")
    if cuda:
        import torch

        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def finish_distributed() -> None:
    """Wait for every rank, then leave the process group."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
