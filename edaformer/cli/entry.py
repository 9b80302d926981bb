"""The one entry point of every ``edaformer-*`` command: compose its config, check it, run it, report.

:func:`run_command` composes ``conf/<command>.yaml`` with the command line (Hydra reads ``sys.argv``), checks the
values the schema cannot (:mod:`edaformer.config.checks`, :mod:`edaformer.config.arguments`) and calls the
command's task. Exit status: 0 done; 1 the command ran but found problems (a dataset check, unreadable inputs, a
training that diverged), each of them listed; 2 a mistake in the arguments or the inputs, reported as one line
``error: ...`` on stderr (and in the run's log file).

What is a mistake of the user:
- anything that fails while Hydra reads the arguments and composes the config, before the task starts (an
  unknown key or option, a value of the wrong type or outside a choice, an override it cannot parse);
- in the task, a :class:`~edaformer.errors.UserError`, any exception whose class declares ``exit_status`` (a
  broken dataset file, a checkpoint of the wrong kind: 2; a diverged training: 1), a missing file, a config value
  that is missing or does not resolve, and a config node that cannot be instantiated.
Anything else is a bug and keeps its traceback; ``HYDRA_FULL_ERROR=1`` shows Hydra's full traces for the
arguments too.

A command module holds its task (call the library, print what it produced) and ``main``; it imports the library
inside the task, so that ``--help`` and the argument errors come back without loading torch and Lightning.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException, MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from ..config import CONF_DIR, register
from ..config.arguments import check_arguments
from ..config.checks import check_ranges, missing_value_message
from ..config.overrides import readable_overrides
from ..config.paths import expand_home_paths
from ..config.resolvers import release_unused_dir
from ..errors import EXIT_USER_ERROR, MissingExtraError, UserError
from .sweep import JobFailed, in_sweep, sweep_summary

__all__ = ["run_command"]

# errors of the user that declare no ``exit_status``
_USER_ERRORS = (UserError, FileNotFoundError, OmegaConfBaseException, InstantiationException)
# Config options that a package of one of our extras brings: (group, option) -> (package, extra).
_EXTRA_OPTIONS = {
    ("hydra/launcher", "submitit_slurm"): ("hydra-submitit-launcher", "slurm"),
    ("hydra/launcher", "submitit_local"): ("hydra-submitit-launcher", "slurm"),
}
_LIBRARY_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)


def run_command(command: str, task: Callable[[DictConfig], Any]) -> int:
    """Run ``task`` on the config of ``conf/<command>.yaml`` and the command line; returns the exit status.

    ``task`` returns what Hydra hands to a sweeper (``edaformer-train``'s optimised metric) and ends with
    ``sys.exit(1)`` when it ran but found problems. ``--version`` prints ``edaformer X.Y.Z`` and runs nothing.
    """
    if "--version" in sys.argv[1:]:  # before Hydra, whose own --version names Hydra's
        import edaformer

        print(f"edaformer {edaformer.__version__}")
        return 0
    register()
    wants_traces = os.environ.get("HYDRA_FULL_ERROR") == "1"
    bug: list[BaseException] = []
    run_dirs: list[str] = []

    @hydra.main(config_path=str(CONF_DIR), config_name=command, version_base="1.3")
    def hydra_task(cfg: DictConfig) -> Any:
        _route_library_logs()
        sweep_job = in_sweep(HydraConfig.get())
        if not sweep_job:
            run_dirs.append(HydraConfig.get().runtime.output_dir)
        try:
            expand_home_paths(cfg)
            check_ranges(cfg, command)
            check_arguments(cfg)
            return task(cfg)
        except SystemExit as done:  # the task ran and listed problems: in a sweep, the other jobs go on
            if not sweep_job:
                raise
            if done.code:
                raise JobFailed(f"exit status {_status(done.code)} (problems listed above)", 1) from None
            return None
        except Exception as err:
            status = _exit_status_of(err)
            if status is None:
                bug.append(err)
                _log_to_files(logging.ERROR, f"{type(err).__name__}: {err}", exc_info=err)
                raise
            _report(err, status, sweep_job)

    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing its own multi-line report
    sys.argv[1:] = readable_overrides(
        sys.argv[1:]
    )  # key=~/x, isr=16,8,2,1-2,4,8: Hydra's grammar reads neither
    try:
        hydra_task()
    except SystemExit as done:
        status = _status(done.code)
        if status == EXIT_USER_ERROR:  # a mistake found before any work: no empty run dir is left
            for run_dir in run_dirs:
                release_unused_dir(run_dir)
        return status
    except Exception as err:
        summary = sweep_summary()  # jobs of a sweep failed: each one is listed, the others ran
        if summary is not None:
            print(summary, file=sys.stderr)
            return err.exit_status if isinstance(err, JobFailed) else 1
        if wants_traces or bug:
            raise
        print(f"error: {error_message(err)}", file=sys.stderr)  # the arguments: before the task started
        return EXIT_USER_ERROR
    finally:
        if not wants_traces:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    sweep_summary()  # forget the sweep's config
    return 0


def _exit_status_of(err: BaseException) -> int | None:
    status = getattr(
        err, "exit_status", None
    )  # the class's, or the instance's (an interruption: 128 + signal)
    if isinstance(status, int):
        return status
    return EXIT_USER_ERROR if isinstance(err, _USER_ERRORS) else None


# What a command adds to a checkpoint of the wrong kind (the library says what the file is, not which command takes
# it): (found, needed) of :class:`~edaformer.checkpoints.CheckpointKindError` -> the command that takes it.
_CHECKPOINT_HINTS = {
    ("classification", "segmentation"): "edaformer-eval data=imagenet ckpt_path=PATH evaluates it; "
    "edaformer-train model.pretrained=PATH starts a segmentation training from its encoder",
    (
        "segmentation",
        "classification",
    ): "edaformer-eval, edaformer-predict and edaformer-visualize-attention take it",
    ("weights", "training"): "ckpt_path= resumes a run from its last.ckpt; to start from these weights use "
    "model.init_from=PATH (or model.pretrained=PATH for an encoder)",
    ("training", "training"): "resume with the model= and data= of the run that wrote it",
}


def _report(err: BaseException, status: int, sweep_job: bool) -> None:
    message = f"error: {error_message(err)}"
    hint = _CHECKPOINT_HINTS.get((getattr(err, "found", None), getattr(err, "needed", None)))
    if hint:
        message += f" ({hint})"
    _log_to_files(logging.ERROR, message)
    print(message, file=sys.stderr)
    if sweep_job:  # Hydra records the job as failed and runs the next one
        raise JobFailed(message, status) from None
    sys.exit(status)


def _status(code: object) -> int:
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)  # sys.exit("message"), as the interpreter would print it
    return 1


def error_message(err: BaseException) -> str:
    """``err`` as one line: the first line of each exception of its chain (the cause says what was wrong with the
    value), a missing config option with the valid ones, a required value with how to give it, a list of problems
    as its first item and a count, an error re-raised from a DataLoader worker as the worker's own message."""
    if isinstance(err, MissingConfigException) and err.options and err.missing_cfg_file:
        group, _, name = err.missing_cfg_file.rpartition("/")
        if (group, name) in _EXTRA_OPTIONS:
            return str(MissingExtraError(*_EXTRA_OPTIONS[group, name]))
        return f"unknown {group} {name!r}; valid: {', '.join(err.options)}"
    if isinstance(err, MissingMandatoryValue) and err.full_key:
        return missing_value_message(err.full_key)
    message = ""
    for item in _chain(err):
        line = _one_line(str(item)).rstrip(":")
        if line and line not in message:
            message += (" " if message.endswith(".") else ": ") + line if message else line
    message = message or type(err).__name__
    override = getattr(err, "override", None)  # an override Hydra could not parse
    if override and override not in message:
        message = f"{override}: {message}"
    return message


def _chain(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    item: BaseException | None = err
    while item is not None and item not in chain:
        chain.append(item)
        item = item.__cause__
    return chain


def _one_line(message: str) -> str:
    lines = [line.strip() for line in _unwrap_worker(message).splitlines() if line.strip()]
    if not lines:
        return ""
    items = [line[2:] for line in lines[1:] if line.startswith("- ")]
    if not items:  # a multi-line message (OmegaConf's adds the key and types below): its first line
        return lines[0]
    more = len(items) - 1  # a list of problems: its header, the first and how many more
    tail = lines[-1]
    if tail.startswith("... and ") and tail.endswith(" more"):
        more += int(tail.removeprefix("... and ").removesuffix(" more"))
    return f"{lines[0].rstrip(':')}: {items[0]}" + (f" (and {more} more)" if more else "")


def _unwrap_worker(message: str) -> str:
    """The original message of an error re-raised from a DataLoader worker (torch puts the worker's traceback in
    the message: ``Caught X in DataLoader worker process N.`` ... ``X: <message>``)."""
    if not message.startswith("Caught ") or " in DataLoader worker process " not in message.splitlines()[0]:
        return message
    kind = message.removeprefix("Caught ").split(" ", 1)[0]
    lines = message.splitlines()
    starts = [i for i, line in enumerate(lines) if line.split(": ", 1)[0].rsplit(".", 1)[-1] == kind]
    return "\n".join(lines[starts[-1] :]).split(": ", 1)[1] if starts else message


def _route_library_logs() -> None:
    """Send Lightning's log lines through the handlers Hydra configured for the command (console and the run's
    ``<task>.log``), instead of Lightning's own stderr handler, which bypasses the log file."""
    if not logging.getLogger().handlers:  # no Hydra logging configured: leave them alone
        return
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
            logger.removeHandler(handler)
        logger.propagate = True


def _log_to_files(level: int, message: str, exc_info: BaseException | None = None) -> None:
    """Write ``message`` to the log files of the root logger only (the console already shows it)."""
    record = logging.getLogger("edaformer").makeRecord(
        "edaformer", level, __file__, 0, message, None, (type(exc_info), exc_info, exc_info.__traceback__)
        if exc_info is not None else None,
    )  # fmt: skip
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
