"""Shared pieces of the Hydra entry points: argument checks, instantiation, W&B safety, result files."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import netrc
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf


def config_dir() -> Path:
    """The Hydra config tree: the package ``edaformer.conf`` (the repository's ``conf/``, mapped into the package
    at build time), found from any directory once the package is installed (wheel or editable).

    A source checkout used without installing (only ``sys.path`` pointing at it) has no ``edaformer.conf``; then
    the checkout's own ``conf/`` is used.
    """
    try:
        from importlib.resources import files

        return Path(str(files("edaformer.conf")))
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "conf"
        if checkout.is_dir():
            return checkout
        raise


CONF_DIR = config_dir()
GROUPS = ("model", "data", "isr", "trainer", "logger", "callbacks", "paths", "experiment", "recipe")

log = logging.getLogger("edaformer")


class UserError(Exception):
    """A problem with what the user asked for; reported as one line (``error: ...``), exit status 2."""


def group_options(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def check_group_overrides(argv: Sequence[str], conf_dir: Path = CONF_DIR) -> None:
    """Reject ``model=foo`` (and the like) before Hydra does, with a one-line message listing the valid names.

    Comma-separated sweeps (``isr=train,paper``) are checked value by value; interpolations and sweep functions
    (``range(...)``, ``glob(...)``) are left to Hydra.
    """
    for arg in argv:
        if "=" not in arg or arg.startswith("-"):
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if key not in GROUPS or not value or "$" in value or "(" in value or value == "null":
            continue
        options = group_options(key, conf_dir)
        for choice in value.split(","):
            if choice not in options:
                raise UserError(f"unknown {key} {choice!r}; valid: {', '.join(options)}")


def run_hydra_main(hydra_main: Callable[[], Any], argv: Sequence[str] | None = None) -> None:
    """Run a ``@hydra.main`` function after :func:`check_group_overrides` on ``argv`` (default ``sys.argv[1:]``).

    An unknown config name ends the process with a one-line ``error: …`` and exit status 2, before Hydra starts.
    """
    try:
        check_group_overrides(sys.argv[1:] if argv is None else argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    hydra_main()


def report_user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`UserError` (and missing files) into ``error: <message>`` on stderr and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, FileNotFoundError) as err:
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def run_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.output_dir)


def require_file(path: str | None, what: str) -> str:
    if path is None:
        raise UserError(f"{what} is required (e.g. {what}=outputs/train/runs/<date>/checkpoints/last.ckpt)")
    if not os.path.isfile(path):
        raise UserError(f"{what} does not exist: {path}")
    return path


def wandb_api_key_available() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def prepare_wandb_env() -> None:
    """Never hang or fail for want of network or account: without an API key (or with ``WANDB_MODE`` unset and
    no key) W&B runs offline and writes its run directory locally (``wandb sync`` uploads it later)."""
    if os.environ.get("WANDB_MODE") in ("offline", "disabled", "dryrun"):
        return
    if not wandb_api_key_available():
        log.warning(
            "W&B: no API key found (WANDB_API_KEY / ~/.netrc); logging offline (upload with `wandb sync`)"
        )
        os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "60")


def instantiate_loggers(cfg: DictConfig | None) -> list[L.pytorch.loggers.Logger]:
    """Loggers from ``cfg.logger`` (a dict of logger configs); TensorBoard is skipped when not installed."""
    loggers = []
    for name, conf in (cfg or {}).items():
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            continue
        target = conf._target_
        if target.endswith("TensorBoardLogger") and not (
            importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX")
        ):
            log.warning("logger %s skipped: tensorboard is not installed", name)
            continue
        if target.endswith("WandbLogger"):
            prepare_wandb_env()
        loggers.append(instantiate(conf))
    return loggers


def instantiate_callbacks(cfg: DictConfig | None, **extra: dict[str, Any]) -> list[L.Callback]:
    """Callbacks from ``cfg.callbacks``; ``extra[name]`` adds runtime keyword arguments (e.g. a palette)."""
    callbacks = []
    for name, conf in (cfg or {}).items():
        if isinstance(conf, DictConfig) and "_target_" in conf:
            callbacks.append(instantiate(conf, **extra.get(name, {})))
    return callbacks


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers (for loggers and result files)."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]
