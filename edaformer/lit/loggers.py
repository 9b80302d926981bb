"""Logger helpers that need no config: W&B that never hangs for want of an account, keeps its files inside the run
and gives each job of a sweep its own run; an MLflow store created once when several runs start together; images
and per-setting results to the loggers."""

from __future__ import annotations

import logging
import netrc
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "finish_wandb_run",
    "keep_wandb_files_in",
    "log_images_to_wandb",
    "open_mlflow_run",
    "prepare_wandb_env",
    "wandb_api_key_available",
]

log = logging.getLogger("edaformer")

# W&B's folders outside a run (artifact cache, staging of uploads, downloads) -> their place inside the run dir
WANDB_FOLDERS = {"WANDB_CACHE_DIR": "cache", "WANDB_DATA_DIR": "data", "WANDB_ARTIFACT_DIR": "artifacts"}
_set_here: dict[
    str, str
] = {}  # the values this process gave WANDB_FOLDERS' variables (the user's own are kept)


def wandb_api_key_available() -> bool:
    """Whether W&B can authenticate: ``WANDB_API_KEY`` or an ``api.wandb.ai`` entry in ``~/.netrc``."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def prepare_wandb_env(run_dir: str | os.PathLike | None = None) -> None:
    """Never hang or fail for want of network or account: without an API key (and ``WANDB_MODE`` unset) W&B runs
    offline and writes its run directory locally (``wandb sync`` uploads it later). With ``run_dir``, W&B's cache
    and artifact staging go inside it (:func:`keep_wandb_files_in`); a W&B run still open from an earlier job of
    this process is finished, so that every job gets a run of its own."""
    if run_dir is not None:
        keep_wandb_files_in(run_dir)
    finish_wandb_run()
    if os.environ.get("WANDB_MODE") in ("offline", "disabled", "dryrun"):
        return
    if not wandb_api_key_available():
        log.warning(
            "W&B: no API key found (WANDB_API_KEY / ~/.netrc); logging offline (upload with `wandb sync`)"
        )
        os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "60")


def keep_wandb_files_in(run_dir: str | os.PathLike) -> None:
    """Point W&B's cache, artifact staging and download folders (by default under ``~/.cache`` and
    ``~/.local/share``: a staged checkpoint is a copy of it) at ``<run_dir>/wandb/{cache,data,artifacts}``, each
    unless the user set its variable (:data:`WANDB_FOLDERS`)."""
    for variable, name in WANDB_FOLDERS.items():
        if variable in os.environ and os.environ[variable] != _set_here.get(variable):
            continue  # the user's (or set since by the user)
        os.environ[variable] = _set_here[variable] = str(Path(run_dir).resolve() / "wandb" / name)


def finish_wandb_run(exit_code: int = 0) -> None:
    """Finish the active W&B run of this process, if any (the next logger starts a new run instead of reusing it)."""
    import sys

    wandb = sys.modules.get("wandb")  # never imported: no run to finish
    if wandb is not None and wandb.run is not None:
        wandb.run.finish(exit_code=exit_code)


def open_mlflow_run(build: Callable[[], Any], tracking_uri: str | None) -> Any:
    """The MLflow logger made by ``build``, with its store, experiment and run created at once, under a file lock
    next to a local store (``tracking_uri`` SQLite or a folder): runs started together on a fresh store would each
    create its tables and the experiment, and all but one fail."""
    from filelock import FileLock

    uri = str(tracking_uri or "")
    if uri.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        lock = f"{make_url(uri).database}.lock"
    elif uri.startswith("file:") or "://" not in uri:
        lock = f"{uri.removeprefix('file:').rstrip('/') or 'mlruns'}.lock"
    else:  # a tracking server creates its store itself
        return build()
    Path(lock).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock):
        logger = build()  # its client opens the store
        logger.experiment  # noqa: B018 (the property creates the experiment and the run)
    return logger


def log_images_to_wandb(loggers: Sequence[Any], prefix: str, images: Sequence[Path]) -> None:
    """Each PNG as ``<prefix>/<name>`` (its stem after the first ``_``) to the W&B loggers among ``loggers``."""
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger":
            for path in images:
                lg.log_image(key=f"{prefix}/{path.stem.split('_', 1)[-1]}", images=[str(path)])
