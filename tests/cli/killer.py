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
