"""Several processes under ``torchrun``: joining the process group, splitting work by size,
and barriers that carry each rank's status (used by ``taxometer-kd embed``)."""

from __future__ import annotations

import heapq
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


def split_by_size(sizes: Sequence[int], n_parts: int) -> list[list[int]]:
    """Greedy balance: largest first onto the least-loaded part. Deterministic; indices sorted."""
    heap = [(0, p) for p in range(n_parts)]
    parts: list[list[int]] = [[] for _ in range(n_parts)]
    for i in sorted(range(len(sizes)), key=lambda i: (-int(sizes[i]), i)):
        load, p = heapq.heappop(heap)
        parts[p].append(i)
        heapq.heappush(heap, (load + int(sizes[i]), p))
    return [sorted(p) for p in parts]


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.backend is not None


def init_distributed(cuda: bool) -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local)
    hours = float(os.environ.get("TAXOMETER_KD_DIST_TIMEOUT_HOURS", "72"))  # ranks may wait for slower ones
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"backend": backend, "timeout": timedelta(hours=hours)}
        if cuda:
            kwargs["device_id"] = torch.device("cuda", local)
        dist.init_process_group(**kwargs)
    return DistInfo(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local, backend=backend)


def failed_ranks(info: DistInfo, ok: bool) -> list[int]:
    """A barrier that carries each rank's status: the ranks that failed (every rank gets the
    same list; empty when all succeeded). Every rank must call it, failed or not."""
    if not info.active:
        return [] if ok else [info.rank]
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", info.local_rank) if info.backend == "nccl" else torch.device("cpu")
    flags = torch.zeros(info.world, dtype=torch.int64, device=device)
    flags[info.rank] = 0 if ok else 1
    dist.all_reduce(flags)
    return [int(r) for r in torch.nonzero(flags.cpu()).flatten()]


def all_ok(info: DistInfo, ok: bool) -> bool:
    """A barrier that also tells every rank whether all ranks succeeded."""
    return not failed_ranks(info, ok)
