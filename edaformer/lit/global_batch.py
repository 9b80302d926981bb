"""The global batch of a recipe, reached on any number of devices by gradient accumulation.

The authors fix the batch per GPU (``samples_per_gpu``) and launch on four GPUs, so each paper recipe has a global
batch (16, 8 or 4 images per optimizer step). A run reaches it on whatever it is given:
``global batch = per-device batch × devices × nodes × accumulation``, the accumulation computed here. Lightning
counts ``max_steps`` (and so the per-step poly schedule) in optimizer steps but ``val_check_interval`` in training
batches; :func:`trainer_arguments` converts the recipe's interval, given in optimizer steps, to batches, and
:class:`WholeGlobalBatches` keeps every optimizer step whole at epoch ends. The plan is made once, from the config,
before the ``Trainer`` is built (:func:`count_devices` resolves ``trainer.devices`` as Lightning does).

What accumulation does not reproduce: BatchNorm (the head's fuse layer; SyncBN under DDP) normalises each forward
pass, so its batch statistics come from the per-device batch × devices of one pass, not from the global batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L


@dataclass(frozen=True)
class GlobalBatch:
    """Samples per optimizer step: ``per_device × devices × nodes × accumulation``."""

    per_device: int
    devices: int
    nodes: int
    accumulation: int

    @property
    def size(self) -> int:
        return self.per_device * self.devices * self.nodes * self.accumulation

    def __str__(self) -> str:
        return (
            f"global batch {self.size} = {self.per_device} per device x {_count(self.devices, 'device')} x "
            f"{_count(self.nodes, 'node')} x {self.accumulation} accumulation"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def plan_global_batch(
    global_batch: int | None, per_device: int, devices: int, nodes: int, accumulation: int = 1
) -> GlobalBatch:
    """The accumulation that turns ``per_device × devices × nodes`` samples per pass into ``global_batch``.

    ``global_batch=None`` keeps ``accumulation`` (the global batch is then whatever the run gives). A given
    ``accumulation`` other than 1 must agree with the computed one. Raises a one-line ``ValueError`` naming the
    numbers when the global batch cannot be reached exactly.
    """
    per_pass = per_device * devices * nodes
    shape = f"{per_device} per device x {_count(devices, 'device')} x {_count(nodes, 'node')}"
    if global_batch is None:
        return GlobalBatch(per_device, devices, nodes, accumulation)
    if isinstance(global_batch, bool) or not isinstance(global_batch, int) or global_batch < 1:
        raise ValueError(f"global_batch={global_batch!r}: expected a positive integer or null")
    if global_batch % per_pass:
        raise ValueError(
            f"global_batch={global_batch} cannot be reached with {shape} = {per_pass} per pass: it is not a "
            f"multiple; change data.batch_size or trainer.devices, or set global_batch=null"
        )
    needed = global_batch // per_pass
    if accumulation not in (1, needed):
        raise ValueError(
            f"trainer.accumulate_grad_batches={accumulation} but global_batch={global_batch} with {shape} needs "
            f"{needed}; leave trainer.accumulate_grad_batches out (it is computed)"
        )
    return GlobalBatch(per_device, devices, nodes, needed)


def accelerator_kind(accelerator: str = "auto") -> str:
    """``"cpu"``, ``"cuda"`` or ``"mps"``: the accelerator ``trainer.accelerator`` stands for on this machine
    (``auto``: CUDA, else MPS, else the CPU; ``gpu``: CUDA, else MPS); another name is a ``ValueError``."""
    from lightning.pytorch.accelerators import CUDAAccelerator, MPSAccelerator

    kind, cuda, mps = str(accelerator), CUDAAccelerator.is_available(), MPSAccelerator.is_available()
    if kind == "auto":
        kind = "cuda" if cuda else "mps" if mps else "cpu"
    elif kind == "gpu":
        kind = "mps" if mps and not cuda else "cuda"
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"trainer.accelerator={accelerator}: expected auto, cpu, gpu, cuda or mps")
    return kind


def count_devices(accelerator: str = "auto", devices: int | str | list[int] = "auto") -> int:
    """The number of devices a ``Trainer(accelerator=..., devices=...)`` runs on, from Lightning's own parsing of
    ``devices`` (``auto``, ``-1``, ``"0,1"``, a list of ids) for the accelerator ``auto`` (or ``gpu``) stands for:
    CUDA, else MPS, else the CPU. Computed before the Trainer is built, so that the plan can be handed to it."""
    from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator, MPSAccelerator

    accelerators = {"cpu": CPUAccelerator, "cuda": CUDAAccelerator, "mps": MPSAccelerator}
    found = accelerators[accelerator_kind(accelerator)]
    if devices == "auto":
        return found.auto_device_count()
    return len(found.get_parallel_devices(found.parse_devices(devices)))


def trainer_arguments(
    plan: GlobalBatch, val_check_interval: int | float | None
) -> dict[str, int | float | None]:
    """The ``Trainer`` arguments that carry ``plan``: ``accumulate_grad_batches``, and an integer
    ``val_check_interval`` converted from optimizer steps (as recipes state it) to the training batches Lightning
    counts."""
    interval = val_check_interval
    if isinstance(interval, int) and not isinstance(interval, bool):
        interval *= plan.accumulation
    return {"accumulate_grad_batches": plan.accumulation, "val_check_interval": interval}


class GlobalBatchError(ValueError):
    """The data cannot fill one global batch per epoch on this run's devices."""


class WholeGlobalBatches(L.Callback):
    """Every optimizer step sees ``accumulate_grad_batches`` batches, also at the end of an epoch.

    Lightning steps the optimizer on an epoch's last batch even when the accumulation is incomplete, and restarts
    the count with the next epoch; that step would be smaller than the global batch and shift every interval
    counted in batches. This callback ends each epoch after the largest multiple of the accumulation (dropping at
    most ``accumulation - 1`` batches, like ``drop_last`` at the scale of the global batch). Without accumulation
    it does nothing.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        k = trainer.accumulate_grad_batches
        batches = trainer.fit_loop.max_batches  # per epoch, as Lightning computed it for this process
        if k > 1 and isinstance(batches, int):
            if batches < k:
                raise GlobalBatchError(
                    f"an epoch has {batches} training batches per device, fewer than the {k} accumulated per "
                    "optimizer step: use more data, fewer devices or a smaller global_batch"
                )
            trainer.fit_loop.max_batches = batches - batches % k
