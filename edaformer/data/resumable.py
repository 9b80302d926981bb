"""Training batches that a resumed run draws exactly as the interrupted run would have, in every loader setting.

Each epoch is a random permutation drawn from one seed (taken from torch's global generator when the epoch starts,
as :class:`torch.utils.data.RandomSampler` does), and each sample's augmentation is seeded from that epoch seed and
its position in the epoch (:func:`sample_seed`), not from a generator that lives in a process: so the augmentation
of a sample does not depend on which DataLoader worker draws it, nor on how many samples that process drew before.
The loader's position (the epoch seed and the batches it yielded) is part of every Lightning checkpoint
(:meth:`ResumableDataLoader.state_dict`); a run resumed from a checkpoint written in the middle of an epoch
continues that epoch's permutation after the last batch it trained on.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Sized
from typing import Any, NamedTuple

import torch
from torch.utils.data import DataLoader, Sampler

__all__ = ["ResumableDataLoader", "ResumableSampler", "SeededIndex", "leave_signals_to_main", "sample_seed"]

_GOLDEN = 0x9E3779B97F4A7C15  # odd 64-bit constant: positions map to well-spread seeds


def leave_signals_to_main(worker_id: int) -> None:
    """``worker_init_fn``: a DataLoader worker ignores SIGTERM and SIGINT, which a scheduler, ``timeout`` or Ctrl+C
    send to every process of the group; the main process stops at a safe point and then ends its workers."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class SeededIndex(NamedTuple):
    """A dataset index and the seed of that sample's augmentation."""

    index: int
    seed: int


def sample_seed(epoch_seed: int, position: int) -> int:
    """The augmentation seed of the sample at ``position`` (0-based) of the epoch drawn from ``epoch_seed``."""
    return (epoch_seed + (position + 1) * _GOLDEN) % 2**63


class ResumableSampler(Sampler[SeededIndex]):
    """A new random permutation of ``range(len(data_source))`` per epoch, as :class:`SeededIndex` items.

    ``resume(epoch_seed, start)`` makes the next epoch the one of ``epoch_seed`` from position ``start`` on.
    """

    def __init__(self, data_source: Sized) -> None:
        self.size = len(data_source)
        self.epoch_seed: int | None = None
        self._resume: tuple[int, int] | None = None

    def __len__(self) -> int:
        return self.size

    def resume(self, epoch_seed: int, start: int) -> None:
        self._resume = (int(epoch_seed), int(start))

    @property
    def resume_start(self) -> int:
        """The position the next epoch starts at (0 unless resumed)."""
        return self._resume[1] if self._resume is not None else 0

    def __iter__(self) -> Iterator[SeededIndex]:
        if self._resume is not None:
            seed, start = self._resume
            self._resume = None
        else:
            seed, start = int(torch.empty((), dtype=torch.int64).random_().item()), 0
        self.epoch_seed = seed
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(seed)).tolist()
        for position in range(start, self.size):
            yield SeededIndex(order[position], sample_seed(seed, position))


class ResumableDataLoader(DataLoader):
    """A shuffling :class:`DataLoader` over a :class:`ResumableSampler` whose position is saved in checkpoints.

    Lightning stores :meth:`state_dict` in every checkpoint (the loader is ``Stateful``) and hands it to
    :meth:`load_state_dict` when a run resumes, before the first batch is drawn. Build it with
    ``sampler=ResumableSampler(dataset)`` and ``drop_last=True`` (whole batches: positions count samples).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if (
            kwargs.get("generator") is None
        ):  # worker seeds from a generator of its own: creating an iterator never
            kwargs["generator"] = torch.Generator().manual_seed(
                0
            )  # moves the global one (samples carry seeds)
        super().__init__(*args, **kwargs)
        self._batches = 0  # batches yielded in the current epoch (skipped ones included)

    def __iter__(self) -> Iterator[Any]:
        start = self.sampler.resume_start if isinstance(self.sampler, ResumableSampler) else 0
        self._batches = start // (self.batch_size or 1)
        for batch in super().__iter__():
            self._batches += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        sampler = self.sampler
        if not isinstance(sampler, ResumableSampler) or sampler.epoch_seed is None:
            return {}
        return {"epoch_seed": sampler.epoch_seed, "batches": self._batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler = self.sampler
        if not state or not isinstance(sampler, ResumableSampler) or self.batch_size is None:
            return
        if state["batches"] < len(self):  # an epoch in progress (a finished one: the next starts afresh)
            sampler.resume(state["epoch_seed"], state["batches"] * self.batch_size)
