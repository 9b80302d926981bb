"""Sweeps (``-m``) whose jobs fail: the other jobs still run, and the end of the sweep lists the failed ones.

A job that fails on a user's mistake prints its ``error: ...`` line and raises :class:`JobFailed` (instead of
exiting), so that Hydra records the job as failed and its launcher goes on with the next one. The Hydra callback
:class:`SweepReport` (``hydra.callbacks`` in ``conf/hydra/default.yaml``) writes each failed job's one line into
its folder (:data:`~edaformer.results.ERROR_FILE`, also read by ``edaformer-isr-table`` to say which settings are
missing) and keeps the sweep's config, so that :func:`sweep_summary` lists them when the sweep ends, whichever
launcher ran the jobs.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from ..results import ERROR_FILE, failed_jobs

__all__ = ["JobFailed", "SweepReport", "in_sweep", "sweep_summary"]

_SWEEP: dict[str, DictConfig] = {}  # the config of the sweep in progress in this process


class JobFailed(Exception):
    """A sweep job that stopped on a mistake it reported as one line (``message``) with ``exit_status``."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message, exit_status)
        self.message, self.exit_status = message, exit_status

    def __str__(self) -> str:
        return self.message


def in_sweep(cfg_hydra: Any) -> bool:
    """Whether the job of Hydra config ``cfg_hydra`` (``HydraConfig.get()``) is one of a sweep."""
    return cfg_hydra.mode == RunMode.MULTIRUN


def one_line_of(err: BaseException) -> str:
    """The line a failed job is listed with: a reported mistake's ``error: ...``, else ``Type: first line``."""
    if isinstance(err, JobFailed):
        return err.message
    first = next((line for line in str(err).splitlines() if line.strip()), "")
    return f"{type(err).__name__}: {first}".rstrip(": ")


class SweepReport(Callback):
    """Hydra callback: keeps the config of a sweep and writes the one line of each failed job to its folder."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # the object the launcher resolves the sweep dir on, read when the sweep ends
        _SWEEP["config"] = config

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status != JobStatus.FAILED or not in_sweep(config.hydra):
            return
        err = job_return._return_value  # (``return_value`` would raise it, with a line of its own)
        if not isinstance(err, BaseException):
            return
        if not isinstance(err, JobFailed):  # a bug: its traceback, since the sweep goes on
            traceback.print_exception(err)
        folder = Path(str(config.hydra.runtime.output_dir))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ERROR_FILE).write_text(one_line_of(err) + "\n")


def sweep_summary() -> str | None:
    """The lines that end a sweep in which jobs failed, one per failed job and an ``error:`` line (``None``: no
    sweep in this process, or none failed)."""
    config = _SWEEP.pop("config", None)
    if config is None:
        return None
    sweep_dir = Path(str(config.hydra.sweep.dir))
    failed, ran = failed_jobs(sweep_dir)
    if not failed:
        return None
    lines = [f"failed job {name}: {error}" for name, error in failed.items()]
    lines.append(
        f"error: {len(failed)} of {ran} jobs of the sweep failed (listed above); results in {sweep_dir}"
    )
    return "\n".join(lines)
