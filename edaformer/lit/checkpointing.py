"""Checkpoint callbacks of a training run: the best checkpoint carried across a resume and ``last.ckpt`` on a
wall-clock interval (both :class:`~lightning.pytorch.callbacks.ModelCheckpoint`, configured in
``conf/callbacks/default.yaml``), and the CSV metrics of a resumed run continuing the interrupted run's."""

from __future__ import annotations

import csv
import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only

__all__ = ["BestCheckpoint", "ContinueCSVMetrics", "TimedCheckpoint"]

log = logging.getLogger("edaformer")


class BestCheckpoint(ModelCheckpoint):
    """:class:`ModelCheckpoint` whose best checkpoints survive a resume into another run dir.

    Lightning keeps the best score only when a run resumes in the folder that wrote the checkpoint; a resumed run
    writes to a new run dir, so its "best" would ignore every validation before the interruption. Here the best
    files of the resumed run are linked (or copied) into the new folder, under their names, with their scores: a
    better score later replaces the copy, never the interrupted run's files.
    """

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old = state_dict.get("dirpath")
        if not old or not self.dirpath or os.path.abspath(old) == os.path.abspath(self.dirpath):
            super().load_state_dict(state_dict)
            return
        here = lambda path: str(Path(self.dirpath) / Path(path).name) if path else ""  # noqa: E731
        kept = {
            here(p): score for p, score in state_dict.get("best_k_models", {}).items() if os.path.isfile(p)
        }
        if not kept:  # the files are gone: the resumed run's validations choose the best
            return
        for path in state_dict["best_k_models"]:
            if here(path) in kept:
                _link_or_copy(Path(path), Path(here(path)))
        super().load_state_dict(
            {
                **state_dict,
                "dirpath": self.dirpath,
                "best_k_models": kept,
                "best_model_path": here(state_dict.get("best_model_path")),
                "kth_best_model_path": here(state_dict.get("kth_best_model_path")),
                "last_model_path": "",
            }
        )
        log.info(
            "best checkpoint so far: %s (%s %.4g)", self.best_model_path, self.monitor, self.best_model_score
        )


@rank_zero_only
def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links
        shutil.copy2(source, target)


class TimedCheckpoint(ModelCheckpoint):
    """``last.ckpt`` (``filename``) in ``dirpath`` every ``minutes`` of training wall-clock time (checked after each
    training batch); ``minutes=None``: never. Only the interval triggers it (no save at validations)."""

    def __init__(self, dirpath: str | os.PathLike, minutes: float | None, filename: str = "last") -> None:
        interval = timedelta(minutes=minutes) if minutes else None
        super().__init__(
            dirpath=dirpath,
            filename=filename,
            monitor=None,
            save_top_k=1,
            enable_version_counter=False,
            train_time_interval=interval,
            every_n_epochs=None if interval else 0,  # 0 and no interval: never
        )


class ContinueCSVMetrics(L.Callback):
    """A resumed run's ``metrics.csv`` starts with the interrupted run's rows logged before the checkpoint's step,
    so it holds the whole history once: the rows the interrupted run logged past its checkpoint (it was killed
    later) are the ones the resumed run logs again. The interrupted run's file is left as it is.

    The interrupted run's file is found where the run layout puts it: the checkpoint in ``<run>/checkpoints/``,
    the CSV logger's folder at the same place under ``<run>`` as under this run's ``default_root_dir``.
    """

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if not trainer.is_global_zero or not trainer.ckpt_path or trainer.state.fn != "fit":
            return
        step = int(checkpoint.get("global_step", 0))
        interrupted_run = Path(trainer.ckpt_path).resolve().parent.parent
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                _continue(logger, interrupted_run, Path(trainer.default_root_dir).resolve(), step)


def _continue(logger: CSVLogger, interrupted_run: Path, run_dir: Path, step: int) -> None:
    try:
        where = Path(logger.log_dir).resolve().relative_to(run_dir)
    except ValueError:  # a logger folder outside the run dir
        return
    previous = interrupted_run / where / "metrics.csv"
    if not previous.is_file():
        return
    with previous.open(newline="") as file:
        reader = csv.DictReader(file)
        header = list(reader.fieldnames or [])
        rows = [row for row in reader if row.get("step", "").isdigit() and int(row["step"]) < step]
    writer = logger.experiment  # creates the file's writer (which removes a metrics.csv in its folder)
    with open(writer.metrics_file_path, "w", newline="") as file:
        out = csv.DictWriter(file, fieldnames=header)
        out.writeheader()
        out.writerows(rows)
    writer.metrics_keys = sorted(
        header
    )  # later rows are appended (new keys rewrite the header, as Lightning does)
    log.info("metrics: %d rows before step %d continued from %s", len(rows), step, previous)
