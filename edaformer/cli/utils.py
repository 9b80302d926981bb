"""Shared pieces of the ``edaformer-*`` commands: the entry point with its one-line errors, argument checks,
instantiation, W&B safety, result files, run-dir names.

Every command is a ``@hydra.main`` function wrapped in :func:`report_user_errors` and started by
:func:`run_hydra_main`. Exit status: 0 done; 1 the command ran but found problems (a dataset check, unreadable
inputs, a training that diverged), each of them listed; 2 a mistake in the arguments or the inputs, reported as
one line ``error: ...`` on stderr (and in the run's log file).

Library errors a user can act on declare how they are reported with a class attribute ``exit_status`` (e.g.
:class:`~edaformer.data.io.DatasetError`: 2, :class:`~edaformer.lit.NonFiniteError`: 1), so the reporter needs no
import of the layers that raise them.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import logging
import netrc
import os
import re
import sys
import textwrap
import types
import typing
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

    exit_status = EXIT_USER_ERROR


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
    except ValueError as err:  # Hydra's check that a group option is a name (``model=1``, ``debug=nan``)
        if wants_traces or not str(err).startswith("Config group override must be"):
            raise
        numeric = [a for a in sys.argv[1:] if re.fullmatch(r"[\w.]+=([-+]?(nan|inf)|[-+\d.e_]+)", a, re.I)]
        shown_arg = numeric[0] if numeric else "a group option"
        key, _, value = shown_arg.partition("=")
        print(
            f"error: {shown_arg}: a config group option is a name; quote one that reads as a number: {key}='{value}'",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    finally:
        if not wants_traces:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    return 0


def report_user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user's mistake inside a command into ``error: <one line>`` on stderr and its exit status.

    Reported: :class:`UserError`, any exception whose class declares ``exit_status`` (a broken dataset file, a
    checkpoint of the wrong kind: 2; a diverged training: 1), a missing file, a config value that is missing or
    does not resolve (OmegaConf errors name the key) and a config that cannot be instantiated (Hydra names the
    target and key). Anything else is a bug and keeps its traceback. The library's log lines (Lightning's
    included) and the error go to the run's log file too.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        route_library_logs()
        try:
            return fn(*args, **kwargs)
        except (UserError, FileNotFoundError, OmegaConfBaseException, InstantiationException) as err:
            _report(err, EXIT_USER_ERROR)
        except Exception as err:
            status = getattr(type(err), "exit_status", None)
            if not isinstance(status, int):
                log_to_files(logging.ERROR, f"{type(err).__name__}: {err}", exc_info=err)
                raise
            _report(err, status)

    return wrapper


def _report(err: BaseException, status: int) -> None:
    message = f"error: {error_message(err)}"
    log_to_files(logging.ERROR, message)
    print(message, file=sys.stderr)
    sys.exit(status)


_LIBRARY_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)


def route_library_logs() -> None:
    """Send Lightning's log lines through the handlers Hydra configured for the command (console and the run's
    ``<task>.log``), instead of Lightning's own stderr handler, which bypasses the log file."""
    if not logging.getLogger().handlers:  # no Hydra logging configured (a library call): leave them alone
        return
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
            logger.removeHandler(handler)
        logger.propagate = True


def log_to_files(level: int, message: str, exc_info: BaseException | None = None) -> None:
    """Write ``message`` to the log files of the root logger only (the console already shows it)."""
    record = logging.getLogger("edaformer").makeRecord(
        "edaformer", level, __file__, 0, message, None, (type(exc_info), exc_info, exc_info.__traceback__)
        if exc_info is not None else None,
    )  # fmt: skip
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


_WORKER_WRAPPER = re.compile(r"^Caught (\w+) in DataLoader worker process \d+\.")


def one_line(message: str) -> str:
    """A message as one line: the original message of an error re-raised from a DataLoader worker (torch wraps
    it in the worker's traceback), and a list of problems (``header`` + ``  - item`` lines) as the header, the
    first item and how many more there are."""
    wrapped = _WORKER_WRAPPER.match(message)
    if wrapped:
        lines = message.splitlines()
        starts = [i for i, line in enumerate(lines) if re.match(rf"^([\w.]+\.)?{wrapped.group(1)}: ", line)]
        if starts:
            message = "\n".join(lines[starts[-1] :]).split(": ", 1)[1]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    items = [line[2:] for line in lines[1:] if line.startswith("- ")]
    if not items:
        return " ".join(lines)
    unlisted = re.search(r"\.\.\. and (\d+) more", lines[-1])
    more = len(items) - 1 + (int(unlisted.group(1)) if unlisted else 0)
    return f"{lines[0].rstrip(':')}: {items[0]}" + (f" (and {more} more)" if more else "")


_NOISE = ("full_key:", "object_type=", "reference_type=")
_TAILS = ("Config search path", "See https://hydra.cc")


def error_message(err: BaseException) -> str:
    """``err`` as one line that names the key or option at fault (Hydra's and OmegaConf's messages span lines)."""
    if not isinstance(err, HydraException | OmegaConfBaseException):
        return one_line(str(err)) or type(err).__name__
    missing = _in_chain(err, MissingConfigException)
    if missing is not None and missing.options and missing.missing_cfg_file:
        group, _, name = missing.missing_cfg_file.rpartition("/")
        return f"unknown {group} {name!r}; valid: {', '.join(missing.options)}"
    if isinstance(err, MissingMandatoryValue) and err.full_key:
        return missing_value_message(err.full_key)
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


# Why a required value (``???`` in a config) has no default and how to give it, for the one-line error.
MISSING_HINTS = {
    "model.pretrained": (
        "the paper recipes start from the ImageNet-pretrained EFT encoder, as the authors' (EFT_T.pth / EFT_B.pth, "
        "an eft_* checkpoint of edaformer-train or a hub folder / repo id): model.pretrained=PATH; to train from "
        "scratch on purpose, model.pretrained=null"
    ),
    "model.init_from": (
        "fine-tuning starts from a trained segmentation checkpoint (ours, Lightning .ckpt, the authors' .pth or a "
        "hub folder / repo id): model.init_from=PATH"
    ),
}


def missing_value_message(key: str) -> str:
    """The one-line error for a required config value ``key`` left out."""
    hint = MISSING_HINTS.get(key)
    return f"{key}=... is required: {hint}" if hint else f"{key}=... is required (see --help)"


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


def claim_new_dir(base: str) -> str:
    """Create and return the run dir ``base``, or ``base_2``, ``base_3``, … when it is taken: the first name this
    process creates itself. ``os.mkdir`` is atomic, so two runs started in the same second (the timestamp's
    resolution) never share a run dir (``${edaformer_new_dir:...}`` in ``conf/hydra/default.yaml``; Hydra
    resolves it once per run, and once per sweep for a multirun)."""
    Path(base).parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        candidate = base if n == 1 else f"{base}_{n}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


# use_cache: one value per composed config (Hydra copies the cache into every job of a sweep)
OmegaConf.register_new_resolver("edaformer_new_dir", claim_new_dir, replace=True, use_cache=True)
OmegaConf.register_new_resolver("edaformer_cwd", os.getcwd, replace=True, use_cache=True)
OmegaConf.register_new_resolver("edaformer_benchmark", lambda path: importlib.import_module("edaformer.data.benchmarks").benchmark_fact(path), replace=True)  # fmt: skip


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
    """A ``device=`` value resolved (:func:`~edaformer.devices.resolve_device`): ``auto``, ``cpu``, ``cuda``,
    ``cuda:N``, checked against this machine; a bad one is a :class:`~edaformer.devices.DeviceError` (exit 2)."""
    from ..devices import resolve_device

    return str(resolve_device(value))


def check_accelerator(trainer: DictConfig) -> None:
    """``trainer.accelerator=gpu|cuda`` on a machine without one is a :class:`UserError` before anything is built."""
    import torch

    accelerator = str(trainer.get("accelerator", "auto"))
    mps = accelerator == "gpu" and torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not (torch.cuda.is_available() or mps):
        raise UserError(
            f"trainer.accelerator={accelerator}: CUDA is not available on this machine (use trainer=cpu, or "
            "trainer.accelerator=auto)"
        )


def as_flag(value: Any, key: str) -> bool:
    """``true`` / ``false`` from the config (YAML booleans only); else a UserError."""
    if not isinstance(value, bool):
        raise UserError(f"{key}={shown(value)}: expected true or false")
    return value


def acceleration_options(cfg: Any) -> dict[str, Any]:
    """``compile`` (true/false) and ``precision`` (fp32/bf16) of a command's config, checked, as keyword arguments
    of :func:`~edaformer.evaluation.acceleration.accelerate`; absent keys give float32 eager."""
    from ..evaluation.acceleration import PRECISIONS

    return {
        "compile": as_flag(cfg.get("compile", False), "compile"),
        "precision": as_choice(cfg.get("precision", "fp32"), PRECISIONS, "precision"),
    }


def shown(value: Any) -> str:
    """A config value as the user would type it (``[512,512]``), for error messages."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value)
    return str(value).replace(" ", "")


def isr_setting(node: Any, model: Any = None) -> ISRSetting | None:
    """The ISR setting of an ``isr`` option (any form :func:`~edaformer.models.parse_isr` reads), or ``None``;
    ``"own"`` is resolved against ``model``'s training ratios. A bad value is a :class:`UserError` naming ``isr``."""
    from ..models import parse_isr

    try:
        return parse_isr(node, own=getattr(model, "train_isr", None))
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


def instantiate_checked(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)`` after :func:`check_types`, so that a value of the wrong type fails naming
    its key (``data.batch_size=abc``) before the work starts, not deep inside the object that received it."""
    check_types(node, key)
    return instantiate(node, **kwargs)


def check_types(node: Any, key: str) -> None:
    """Check every value of a config node with a ``_target_`` (and of its nested targets) against the type hints
    of the target's signature; a mismatch is a :class:`UserError` naming the key, the value and the type.

    Hints that cannot be checked from a config value (classes, callables) are skipped; ``int`` accepts no bool,
    ``float`` accepts ints, sequences are checked element by element, ``Literal`` by value.
    """
    if not isinstance(node, DictConfig) or "_target_" not in node:
        return
    hints = _signature_hints(str(node._target_))
    for name in node:
        name = str(name)
        if name.startswith("_"):
            continue
        value = node[name]
        if isinstance(value, DictConfig):
            check_types(value, f"{key}.{name}")
            continue
        if isinstance(value, ListConfig):
            for i, item in enumerate(value):
                check_types(item, f"{key}.{name}.{i}")
        hint = hints.get(name)
        plain = OmegaConf.to_object(value) if isinstance(value, ListConfig) else value
        if hint is not None and _accepts(hint, plain) is False:
            literal = typing.get_origin(hint) is typing.Literal
            kind = (
                f"one of {', '.join(map(str, typing.get_args(hint)))}"
                if literal
                else inspect.formatannotation(hint)
            )
            owner = str(node._target_).rsplit(".", 1)[-1]
            raise UserError(
                f"{key}.{name}={shown(value)}: expected {kind.replace('typing.', '')} ({owner} argument {name!r})"
            )


def _signature_hints(target: str) -> dict[str, Any]:
    """Type hints of a target's arguments; for a class, those of its bases' ``__init__`` too (``**kwargs``
    forwarded to a base), the nearest definition first."""
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:  # not importable here: nothing to check
        return {}
    functions = (
        [c.__dict__["__init__"] for c in obj.__mro__ if "__init__" in c.__dict__]
        if inspect.isclass(obj)
        else [obj]
    )
    hints: dict[str, Any] = {}
    for fn in functions:
        try:
            found = typing.get_type_hints(fn)
        except Exception:  # hints that do not evaluate (names imported for type checking only)
            continue
        for name, hint in found.items():
            hints.setdefault(name, hint)
    hints.pop("return", None)
    return hints


def _accepts(hint: Any, value: Any) -> bool | None:
    """Whether ``value`` (plain Python, from a config) fits ``hint``; ``None`` when the hint says nothing checkable."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        verdicts = [_accepts(arg, value) for arg in args]
        return True if True in verdicts else (False if all(v is False for v in verdicts) else None)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint in (bool, int, float, str):
        if isinstance(value, bool):
            return hint is bool
        return isinstance(value, int | float) if hint is float else isinstance(value, hint)
    if origin in (list, tuple, Sequence) or hint in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            return False if isinstance(value, bool | int | float | str) or value is None else None
        same = len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis)
        if not args or not (same or len(set(args)) == 1):
            return None
        verdicts = [_accepts(args[0], item) for item in value]
        return False if False in verdicts else (True if all(verdicts) else None)
    return None


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
        loggers.append(instantiate_checked(conf, f"logger.{name}"))
    return loggers


def instantiate_callbacks(cfg: DictConfig | None, **extra: dict[str, Any]) -> list[L.Callback]:
    """Callbacks from ``cfg.callbacks``; ``extra[name]`` adds runtime keyword arguments (e.g. a palette)."""
    callbacks = []
    for name, conf in (cfg or {}).items():
        if isinstance(conf, DictConfig) and "_target_" in conf:
            callbacks.append(instantiate_checked(conf, f"callbacks.{name}", **extra.get(name, {})))
    return callbacks


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers (for loggers and result files)."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]
