"""Repeated augmentation (DeiT's ``RASampler``): every image is seen ``repeats`` times per epoch, on different
processes, each time with its own random augmentation."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import torch
from torch.utils.data.distributed import DistributedSampler

__all__ = ["RepeatAugSampler"]


class RepeatAugSampler(DistributedSampler):
    """DeiT's repeated-augmentation sampler, as a :class:`DistributedSampler` (Lightning then keeps it under DDP).

    Per epoch: a permutation of the ``N`` indices (seeded by ``seed + epoch``, the same on every process) is
    repeated element-wise ``repeats`` times (``a a a b b b …``), padded by wrapping to a multiple of
    ``num_replicas``, and dealt round-robin: process ``r`` takes positions ``r, r + R, r + 2R, …``, so the copies
    of one image land on different processes. Each process then keeps only its first
    ``floor(N' / num_replicas)`` indices, ``N' = N`` rounded down to a multiple of ``round_to`` (DeiT: 256), so
    an epoch has as many iterations as without repetition and sees about ``N / repeats`` distinct images. Datasets
    smaller than ``round_to`` keep ``N' = N``. ``repeats=1`` is plain distributed shuffling with that epoch length.

    Args:
        dataset: anything with ``len``.
        num_replicas / rank: processes and this process's index (``trainer.world_size`` / ``global_rank``).
        repeats: copies of each image per epoch (DeiT: 3).
        shuffle: permute per epoch (else ``0 .. N-1``).
        seed: base seed, identical on all processes.
        round_to: the epoch length is a multiple of it (before dividing by ``num_replicas``).
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int = 1,
        rank: int = 0,
        repeats: int = 3,
        shuffle: bool = True,
        seed: int = 0,
        round_to: int = 256,
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        if repeats < 1 or round_to < 1:
            raise ValueError(f"repeats and round_to must be >= 1, got {repeats} and {round_to}")
        size = len(dataset)
        self.repeats = int(repeats)
        self.total_size = math.ceil(size * self.repeats / num_replicas) * num_replicas
        kept = size // round_to * round_to if size >= round_to else size
        self.num_samples = kept // num_replicas

    def __iter__(self) -> Iterator[int]:
        size = len(self.dataset)
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(size, generator=generator)
        else:
            order = torch.arange(size)
        indices = torch.repeat_interleave(order, self.repeats).tolist()  # a a a b b b ...
        indices += indices[: self.total_size - len(indices)]  # wrap to a multiple of num_replicas
        return iter(indices[self.rank : self.total_size : self.num_replicas][: self.num_samples])

    def __len__(self) -> int:
        return self.num_samples
