"""Stopping on SIGTERM / SIGINT without losing work or reporting success.

Schedulers (SLURM preemption, ``docker stop``, Kubernetes, systemd, ``timeout``) send SIGTERM; a user presses
Ctrl+C (SIGINT). :class:`StopOnSignal` takes both over while a trainer runs: training finishes the optimizer step
in progress, writes ``last.ckpt`` (the exact-resume state, through the trainer's atomic checkpoint IO) and raises
:class:`Interrupted`; an evaluation stops after the batch in progress and raises :class:`Interrupted` saying how
many batches it scored. Lightning then marks every logger run ``failed``; the command exits with
``128 + signal`` (143 for SIGTERM, 130 for SIGINT). A second Ctrl+C stops at once (``KeyboardInterrupt``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ["Interrupted", "StopOnSignal"]

log = logging.getLogger("edaformer")

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Interrupted(Exception):
    """A run stopped on a signal; ``exit_status`` is ``128 + signal``. ``checkpoint``: the file written at the
    interrupt (training), ``step``: the optimizer steps it holds; ``scored`` / ``total``: batches of an evaluation."""

    def __init__(
        self,
        message: str,
        signum: int,
        checkpoint: Path | None = None,
        step: int | None = None,
        scored: int | None = None,
        total: int | None = None,
    ) -> None:
        super().__init__(message)
        self.exit_status = 128 + int(signum)
        self.signal_name = signal.Signals(signum).name
        self.checkpoint, self.step, self.scored, self.total = checkpoint, step, scored, total


class StopOnSignal(L.Callback):
    """Turn SIGTERM / SIGINT into a clean stop at the next safe point (see the module docstring).

    Args:
        checkpoint: the file written when training stops; default: ``last.ckpt`` in the folder of the trainer's
            ``last`` :class:`ModelCheckpoint` (else ``<default_root_dir>/checkpoints``).
    """

    def __init__(self, checkpoint: str | os.PathLike | None = None) -> None:
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.received: int | None = None
        self._previous: dict[int, Any] = {}  # the handlers before the first run: what every end restores
        self._active = False
        self._step_before = 0
        self.saved: Interrupted | None = None  # the interruption saved, raised at the next hook

    # ------------------------------------------------------------------------------------------ handlers
    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if (
            not self._active
        ):  # re-installed after the run by a restore that came after ours (Lightning's, on an
            self._act_as_before(
                signum, frame
            )  # exception), or inherited by a forked process: as if never here
            return
        if self.received == signal.SIGINT and signum == signal.SIGINT:
            signal.default_int_handler(signum, frame)  # the second Ctrl+C: stop at once
        self.received = signum

    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._active = True
        for signum in HANDLED:
            self._previous.setdefault(signum, signal.getsignal(signum))
            signal.signal(signum, self._handle)

    def _restore(self) -> None:
        self._active = False
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _act_as_before(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum) or signal.SIG_DFL
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)  # the default action: end the process with this signal

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._install()  # a signal while the run is set up stops it at the first safe point

    # Lightning installs its own SIGTERM handler after ``setup`` (which ends a run at any batch, as a success): ours
    # replace it while the loops run; Lightning restores ours when it tears down, ``teardown`` the ones before.
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install_over_lightning()

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install_over_lightning()

    def _install_over_lightning(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                signal.signal(signum, self._handle)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def _stop_requested(self, trainer: L.Trainer) -> bool:
        """Whether any process received a signal (one decision for all processes, so all stop at one step)."""
        received = self.received is not None
        if trainer.world_size > 1:
            received = trainer.strategy.reduce_boolean_decision(received, all=False)
        return received

    # ------------------------------------------------------------------------------------------ training
    # The checkpoint is written when the optimizer step ends (on_train_batch_end, where Lightning's step-based
    # checkpoints are written too); the run stops at the next hook, once Lightning has logged that step's metrics.
    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._raise_if_saved()
        self._step_before = trainer.global_step

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install_over_lightning()
        self._raise_if_saved()  # no validation after the interrupt: it could take longer than a scheduler waits

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._raise_if_saved()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step == self._step_before:  # inside a gradient accumulation: finish the step first
            return
        if self.saved is not None or not self._stop_requested(trainer):
            return
        signum = self.received if self.received is not None else signal.SIGTERM
        path = self.checkpoint_path(trainer)
        trainer.save_checkpoint(path, weights_only=False)  # the exact-resume state (optimizer, loops, RNG)
        self.saved = Interrupted(
            f"training interrupted by {signal.Signals(signum).name} after step {trainer.global_step}; saved {path}",
            signum,
            checkpoint=path,
            step=trainer.global_step,
        )

    def interruption(self, err: BaseException) -> Interrupted | None:
        """What ``err``, raised while this callback handled a signal, means: the interruption (a signal sent to the
        process group also ends the DataLoader workers, which fails the next batch), or ``None``: another error."""
        if isinstance(err, Interrupted):
            return err
        if self.saved is not None:
            return self.saved
        if self.received is not None:
            name = signal.Signals(self.received).name
            return Interrupted(f"interrupted by {name} ({type(err).__name__}: {err})", self.received)
        return None

    def _raise_if_saved(self) -> None:
        if self.saved is not None:
            raise self.saved

    def checkpoint_path(self, trainer: L.Trainer) -> Path:
        if self.checkpoint is not None:
            return self.checkpoint
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.filename == "last" and callback.dirpath:
                return Path(callback.dirpath) / f"last{callback.FILE_EXTENSION}"
        return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"

    # ------------------------------------------------------------------------------------------ evaluation
    def _evaluation_batch_end(self, trainer: L.Trainer, batch_idx: int, dataloader_idx: int) -> None:
        if trainer.state.fn == "fit" or trainer.sanity_checking or not self._stop_requested(trainer):
            return  # a validation inside training ends first; the next optimizer step stops the run
        signum = self.received if self.received is not None else signal.SIGTERM
        total = trainer.num_test_batches if trainer.testing else trainer.num_val_batches
        count = total[dataloader_idx] if isinstance(total, list) and total else None
        of = f" of {int(count)}" if count is not None and count != float("inf") else ""
        raise Interrupted(
            f"evaluation interrupted by {signal.Signals(signum).name} after {batch_idx + 1}{of} batches; "
            "no results written",
            signum,
            scored=batch_idx + 1,
            total=int(count) if of else None,
        )

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        self._evaluation_batch_end(trainer, batch_idx, dataloader_idx)

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        self._evaluation_batch_end(trainer, batch_idx, dataloader_idx)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        """Lightning marks the loggers ``failed``; a W&B run also records the exit status."""
        self._restore()
        if not isinstance(exception, Interrupted):
            return
        for logger in trainer.loggers:
            if type(logger).__name__ == "WandbLogger" and getattr(logger, "_experiment", None) is not None:
                logger.experiment.finish(exit_code=exception.exit_status)
