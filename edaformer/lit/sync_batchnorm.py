"""Whether a training run synchronises BatchNorm across its processes (Lightning's ``sync_batchnorm``).

The authors always train with SyncBN (the decode head's fuse layer is the model's one BatchNorm): on several GPUs
its statistics come from the images of every GPU. So SyncBN is on whenever training runs on more than one CUDA
device, whatever the strategy or trainer config; on one device there is nothing to synchronise; CPU processes
(``trainer=ddp_cpu``) keep their own statistics, torch's ``SyncBatchNorm`` running on GPUs only.
``+trainer.sync_batchnorm=false`` turns it off on GPUs; ``true`` on several CPU processes is refused; on one
device it is off.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BatchNormSync", "plan_sync_batchnorm"]


@dataclass(frozen=True)
class BatchNormSync:
    """The decision (``enabled``) and the start-up line that states it and why."""

    enabled: bool
    reason: str

    def __str__(self) -> str:
        return f"BatchNorm: {'SyncBN' if self.enabled else 'SyncBN off'}, {self.reason}"


def plan_sync_batchnorm(kind: str, processes: int, requested: bool | None = None) -> BatchNormSync:
    """SyncBN for a run on ``processes`` devices (devices x nodes) of accelerator ``kind`` (``"cpu"``,
    ``"cuda"``, ``"mps"``); ``requested`` is ``trainer.sync_batchnorm`` (``None``, unset: decided here). Asking for it
    on several CPU processes is a ``ValueError``."""
    several = processes > 1
    where = f"{processes} {kind.upper() if kind != 'cpu' else 'CPU'} process{'es' * several}"
    if not several:
        return BatchNormSync(False, "1 device: nothing to synchronise")
    if kind != "cuda":
        if requested:
            raise ValueError(
                f"trainer.sync_batchnorm=true: torch's SyncBatchNorm runs on GPUs, not on {where}; "
                "leave it unset (null)"
            )
        return BatchNormSync(False, f"{where} keep their own statistics (torch's SyncBatchNorm needs GPUs)")
    if requested is False:
        return BatchNormSync(False, f"{where} keep their own statistics (trainer.sync_batchnorm=false)")
    return BatchNormSync(True, f"statistics synchronised across {where}")
