"""Shared pieces of the ``edaformer-*`` commands: the entry point with its one-line errors, argument checks,
instantiation, W&B safety, result files.

Every command is a ``@hydra.main`` function wrapped in :func:`report_user_errors` and started by
:func:`run_hydra_main`. Exit status: 0 done; 1 the command ran but found problems (a dataset check, unreadable
inputs), each of them listed; 2 a mistake in the arguments, reported as one line ``error: ...`` on stderr.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import netrc
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.errors import HydraException, InstantiationException, MissingConfigException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

if TYPE_CHECKING:
    import lightning as L

    from ..models import ISRSetting


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
EXIT_USER_ERROR = 2

log = logging.getLogger("edaformer")


class UserError(Exception):
    """A problem with what the user asked for; reported as one line (``error: ...``), exit status 2."""


# ------------------------------------------------------------------------------------------------ entry point
def run_hydra_main(hydra_main: Callable[[], Any]) -> int:
    """Run a ``@hydra.main`` function (Hydra reads ``sys.argv``) and return the exit status.

    Hydra's own errors about the arguments — an unknown option of a config group (``model=foo``), an unknown key
    (``foo=1``), an override it cannot parse (``size=[1,``), a sweep without ``-m`` — come out as one line
    ``error: ...`` with status 2 instead of Hydra's multi-line report with status 1: ``HYDRA_FULL_ERROR`` is set
    for the call so that Hydra raises them here. A user who sets ``HYDRA_FULL_ERROR=1`` gets Hydra's full
    stack traces instead. Errors inside a command are reported by :func:`report_user_errors`.
    """
    wants_traces = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        hydra_main()
    except SystemExit as done:
        return _exit_status(done.code)
    except (HydraException, OmegaConfBaseException) as err:
        if wants_traces:
            raise
        print(f"error: {error_message(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if not wants_traces:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    return 0


def report_user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user's mistake inside a command into ``error: <one line>`` on stderr and exit status 2.

    Mistakes are :class:`UserError`, a missing file, a config value that is missing or does not resolve
    (OmegaConf errors name the key) and a config that cannot be instantiated (Hydra names the target and key).
    Anything else is a bug and keeps its traceback.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, FileNotFoundError, OmegaConfBaseException, InstantiationException) as err:
            print(f"error: {error_message(err)}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)

    return wrapper


_NOISE = ("full_key:", "object_type=", "reference_type=")
_TAILS = ("Config search path", "See https://hydra.cc")


def error_message(err: BaseException) -> str:
    """``err`` as one line that names the key or option at fault (Hydra's and OmegaConf's messages span lines)."""
    missing = _in_chain(err, MissingConfigException)
    if missing is not None and missing.options and missing.missing_cfg_file:
        group, _, name = missing.missing_cfg_file.rpartition("/")
        return f"unknown {group} {name!r}; valid: {', '.join(missing.options)}"
    if isinstance(err, MissingMandatoryValue) and err.full_key:
        return f"{err.full_key}=... is required (see --help)"
    not_here = re.match(r"Could not override '([\w.]+)'\. No match in the defaults list", str(err))
    if not_here:  # a config group this command does not use (Hydra's hint, +group=..., would not help)
        return f"{not_here.group(1)}=...: this command has no {not_here.group(1)!r} argument (see --help)"
    lines: list[str] = []
    for line in (line.strip() for line in str(err).splitlines()):
        if line.startswith(_TAILS):
            break
        if line and not line.startswith(_NOISE):
            lines.append(line)
    message = " ".join(lines) or type(err).__name__
    override = getattr(err, "override", None)  # OverrideParseException: the argument it could not read
    if override and override not in message:
        message = f"{override}: {message}"
    cause = err.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause):
        message += f" ({str(cause).splitlines()[0]})"
    key = getattr(err, "full_key", None) or getattr(cause, "full_key", None)
    if key and key not in message:
        message += f" [key: {key}]"
    return message


def _in_chain(err: BaseException | None, kind: type[BaseException]) -> Any:
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, kind):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _exit_status(code: object) -> int:
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)  # sys.exit("message"), as the interpreter would print it
    return 1


def _help_groups(*, _root_: DictConfig) -> str:
    """The config groups of this command with their options (ours and any ``hydra.searchpath`` folder's), the
    default marked ``*``; for ``--help`` (``${edaformer_help_groups:}`` in ``conf/hydra/help/edaformer.yaml``)."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    choices, name = _root_.hydra.runtime.choices, _root_.hydra.job.config_name
    searchpath = [o for o in _root_.hydra.overrides.hydra if o.startswith("hydra.searchpath=")]
    lines = []
    for group in sorted(g for g in choices if not g.startswith("hydra")):
        found = loader.get_group_options(group, config_name=name, overrides=searchpath)
        options = [o + ("*" if o == choices[group] else "") for o in found]
        text = f"{group}: {', '.join(options) or '(none)'}"
        lines.append(textwrap.fill(text, width=110, initial_indent="  ", subsequent_indent=" " * 6))
    return "\n".join(lines) if lines else "  (none)"


OmegaConf.register_new_resolver("edaformer_help_groups", _help_groups, replace=True)


def _launch_dir() -> str:
    """The directory the command was started from (``paths.root_dir``): Hydra's ``runtime.cwd`` once Hydra has set
    up the run; before that — a launcher plugin such as submitit resolves its folders while Hydra prepares a
    multirun — the process's working directory, which is the same place (``hydra.job.chdir`` is false)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return str(HydraConfig.get().runtime.cwd)
    except ValueError:
        return os.getcwd()


OmegaConf.register_new_resolver("edaformer_launch_dir", _launch_dir, replace=True)


def overridden(key: str) -> bool:
    """Whether ``key=...`` (or ``+key=``/``~key``) was given on the command line of the running Hydra app."""
    from hydra.core.hydra_config import HydraConfig

    try:
        overrides = HydraConfig.get().overrides.task
    except ValueError:  # not inside a Hydra app (tests composing configs)
        return False
    return any(o.split("=", 1)[0].lstrip("+~") == key for o in overrides)


# ------------------------------------------------------------------------------------------------ arguments
def as_list(value: Any) -> list[Any]:
    """A config value as a plain list; a single value becomes a one-element list (``isr=paper``)."""
    if value is None:
        return []
    if isinstance(value, ListConfig | list | tuple):
        return list(OmegaConf.to_object(value) if isinstance(value, ListConfig) else value)
    return [value]


def as_size(value: Any, key: str = "size", minimum: int = 1) -> tuple[int, int]:
    """``[H, W]`` (or one side ``S`` for a square) from the config, as ints >= ``minimum``; else a UserError."""
    sides = as_list(value)
    if len(sides) == 1:
        sides = sides * 2
    if len(sides) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in sides):
        raise UserError(f"{key}={shown(value)}: expected [H,W] in pixels, e.g. {key}=[512,512]")
    if min(sides) < minimum:
        raise UserError(f"{key}={shown(value)}: sides must be >= {minimum}")
    return sides[0], sides[1]


def as_choice(value: Any, options: Sequence[str], key: str) -> str:
    """``value`` if it is one of ``options``; else a UserError listing them."""
    if value not in options:
        raise UserError(f"{key}={shown(value)}: expected one of {', '.join(options)}")
    return str(value)


def as_count(value: Any, key: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (``repeats=``, ``threads=``...); else a UserError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{key}={shown(value)}: expected an integer >= {minimum}")
    return value


def as_device(value: Any) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` checked against the machine."""
    import torch

    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(str(value))
    except (RuntimeError, TypeError):
        raise UserError(f"device={shown(value)}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device={shown(value)}: CUDA is not available on this machine")
    return str(device)


def shown(value: Any) -> str:
    """A config value as the user would type it (``[512,512]``), for error messages."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value)
    return str(value).replace(" ", "")


def isr_setting(node: Any) -> ISRSetting | None:
    """The ISR setting of an ``isr`` option (any form :func:`~edaformer.models.parse_isr` reads), or ``None``;
    a bad value is a :class:`UserError` naming ``isr``."""
    from ..models import parse_isr

    try:
        return parse_isr(node)
    except ValueError as err:
        raise UserError(f"isr: {err}") from None


def require_file(path: str | None, what: str) -> str:
    if path is None:
        raise UserError(f"{what} is required (e.g. {what}=outputs/train/runs/<date>/checkpoints/last.ckpt)")
    if not os.path.isfile(path):
        raise UserError(f"{what} does not exist: {path}")
    return path


def require_checkpoint(path: str | None, what: str = "ckpt_path") -> str:
    """A checkpoint file, a hub folder (``config.json`` + ``model.safetensors``) or a Hugging Face Hub repo id
    ``owner/name`` (read by :func:`~edaformer.checkpoints.load_model`); else a UserError."""
    from ..checkpoints import is_hub_reference

    if path is not None and not os.path.isfile(path) and os.path.isdir(path) and not is_hub_reference(path):
        raise UserError(
            f"{what}={path} is a folder without config.json and model.safetensors (not a hub folder)"
        )
    if path is not None and is_hub_reference(path):
        return str(path)
    return require_file(path, what)


def run_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.output_dir)


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
    """Loggers from ``cfg.logger`` (a dict of logger configs); TensorBoard is skipped when not installed, MLflow
    missing is a UserError."""
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
        if target.endswith("MLFlowLogger") and importlib.util.find_spec("mlflow") is None:
            raise UserError(f"logger {name}: MLflow is not installed (pip install 'edaformer[mlflow]')")
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
