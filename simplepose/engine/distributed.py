"""Devices and process groups: one process, or many launched by torchrun (NCCL on GPUs, gloo on CPU).

As MMEngine's init_dist(launcher='pytorch'): the group is initialised from torchrun's environment
(RANK, WORLD_SIZE, LOCAL_RANK; env:// rendezvous) and each process on a GPU machine uses the GPU of
its LOCAL_RANK. Every collective here is a no-op for one process, so callers need no branches.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.distributed as dist

from simplepose.errors import ConfigError


@dataclass
class DistInfo:
    """Who this process is within the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when the job has more than one process."""
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when torchrun's environment variables are present with a world size above one."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed(device_type: str) -> DistInfo:
    """Initialise the default process group from torchrun's env vars (no-op for one process)."""
    if not launched_by_torchrun():
        return DistInfo()
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def resolve_device(name: str, source: str | None = None, key: str | None = "runtime.device") -> torch.device:
    """'auto' -> cuda if available else cpu; cpu, cuda, cuda:N or mps when this machine has it,
    else a ConfigError naming `key` (the config's runtime.device, or a command's --device)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(source, f"unknown device {name!r} (cpu, cuda, cuda:N, mps, auto)",
                          key=key) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(source, f"device {name} asked for but no CUDA device is available", key=key)
        if device.index is not None and device.index >= count:
            raise ConfigError(source, f"device {name} asked for but this machine has {count} CUDA device(s)", key=key)
    elif device.type == "mps" and not (torch.backends.mps.is_available()):
        raise ConfigError(source, "device mps asked for but MPS is not available here", key=key)
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(source, f"unsupported device {name!r} (cpu, cuda, cuda:N, mps, auto)", key=key)
    return device


def setup_device(name: str, source: str | None = None,
                 key: str | None = "runtime.device") -> tuple[torch.device, DistInfo]:
    """The device named by the config, with this process's place in the job (process group joined).

    Under torchrun on CUDA, the device is this process's GPU, cuda:LOCAL_RANK.
    """
    device = resolve_device(name, source, key)
    info = init_distributed(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    return device, info


def get_info() -> DistInfo:
    """The current process's rank and world size (one process when no group is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def shard_by_size(sizes: Sequence[int], world_size: int) -> list[list[int]]:
    """Whole items split over `world_size` processes, balanced by size: per process, the indices of
    its items in input order. Largest item first to the least loaded process (ties: the item first
    in the input, the lower rank), so every process computes the same split."""
    loads = [0] * world_size
    parts: list[list[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(sizes)), key=lambda j: (-sizes[j], j)):
        r = min(range(world_size), key=lambda q: (loads[q], q))
        loads[r] += sizes[i]
        parts[r].append(i)
    return [sorted(p) for p in parts]


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over processes (a copy; unchanged for one process)."""
    value = value.detach().clone()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= dist.get_world_size()
    return value


def any_process(flags: list[bool], device: torch.device) -> list[bool]:
    """Element-wise OR of boolean flags over processes, so that every rank takes the same branch."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(flags)
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def all_gather_objects(obj: Any) -> list[Any]:
    """Every process's `obj`, in rank order ([obj] for one process)."""
    if dist.is_available() and dist.is_initialized():
        out: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj)
        return out
    return [obj]


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank `src`'s object on every process."""
    if dist.is_available() and dist.is_initialized():
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]
    return obj


def cleanup() -> None:
    """Destroy the process group if one was created."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
