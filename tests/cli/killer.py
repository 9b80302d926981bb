"""Test-only callbacks that end a training abruptly at a given step."""

from __future__ import annotations

import os
import signal

import lightning as L


class KillAtStep(L.Callback):
    """SIGKILL the training process (no clean-up, like a pre-empted job)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class Crash(RuntimeError):
    pass


class CrashAtStep(KillAtStep):
    """Raise :class:`Crash` (a failure the run cannot handle) in this process."""

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            raise Crash(f"crashed at step {self.step}")


class SignalAtStep(KillAtStep):
    """Send ``signum`` (SIGTERM by default) to this process at the start of a step, as a scheduler or Ctrl+C does."""

    def __init__(self, step: int, signum: int = signal.SIGTERM) -> None:
        super().__init__(step)
        self.signum = signum

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


class SignalAtTestBatch(L.Callback):
    """Send ``signum`` (SIGINT by default: Ctrl+C) to this process when evaluation batch ``batch`` starts."""

    def __init__(self, batch: int, signum: int = signal.SIGINT) -> None:
        self.batch, self.signum = batch, signum

    def on_test_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int,
                            dataloader_idx: int = 0) -> None:  # fmt: skip
        if batch_idx == self.batch:
            os.kill(os.getpid(), self.signum)
