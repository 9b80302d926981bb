"""The arguments of a config's ``_target_`` nodes (``data``, ``model``, ``trainer``, ``logger``, ``callbacks`` and the
nodes inside them), checked against the target's signature before anything is built.

The schema of each node is its target's signature: pydantic validates every value against the parameter's type
hint (``int``, ``float | Tensor``, ``Literal["stop", "skip"]``, ``tuple[int, int]``, ``Sequence[str] | None`` ...),
so ``data.batch_size=abc`` or ``model.optimizer.lr=abc`` is one line naming the key, the value and the expected
type, not an error deep inside the object that received it (or a crash hours into a run). Values set directly
are checked before interpolated ones, so the key the user set is the one named. A class whose ``__init__``
forwards ``**kwargs`` to its base is checked against the base's signature too.

Hints pydantic cannot build a validator for are not checked; the instantiation reports what they refuse.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue
from pydantic import ConfigDict, TypeAdapter, ValidationError

from ..errors import UserError

__all__ = ["check_arguments", "shown"]

_CONFIG = ConfigDict(arbitrary_types_allowed=True)
_UNREADABLE = (MissingMandatoryValue, InterpolationResolutionError)  # ``???`` filled by the run, ${hydra:...}


def check_arguments(cfg: DictConfig, key: str = "") -> None:
    """Check every ``_target_`` node under ``cfg`` (``key`` is its dotted path, for the messages); the first
    value that does not fit its parameter's type is a :class:`~edaformer.errors.UserError`:
    ``data.batch_size=abc: Input should be a valid integer (DemoDataModule argument 'batch_size')``."""
    nodes = list(_target_nodes(cfg, key))
    for interpolated in (False, True):
        for path, node in nodes:
            _check_node(node, path, interpolated)


def _target_nodes(node: Any, key: str) -> Iterator[tuple[str, DictConfig]]:
    if isinstance(node, DictConfig) and "_target_" in node:
        yield key, node
    names = (
        node.keys()
        if isinstance(node, DictConfig)
        else range(len(node))
        if isinstance(node, ListConfig)
        else []
    )
    for name in names:
        if str(name).startswith("_") or name == "hydra" or _unset(node, name):
            continue
        child = node[name]
        if isinstance(child, DictConfig | ListConfig):
            yield from _target_nodes(child, f"{key}.{name}" if key else str(name))


def _unset(node: DictConfig | ListConfig, name: Any) -> bool:
    """A ``???``, an interpolation (its source is checked where it lives) or ``null``."""
    return OmegaConf.is_missing(node, name) or OmegaConf.is_interpolation(node, name) or node[name] is None


def _check_node(node: DictConfig, key: str, interpolated: bool) -> None:
    try:
        target = get_object(str(node._target_))
    except Exception:  # not importable: the instantiation says so
        return
    hints = _signature_hints(target)
    owner = getattr(target, "__name__", str(node._target_))
    for name in node:
        name = str(name)
        if (
            name.startswith("_")
            or name not in hints
            or OmegaConf.is_interpolation(node, name) != interpolated
        ):
            continue
        try:
            value = node[name]
        except _UNREADABLE:
            continue
        if isinstance(value, DictConfig | ListConfig):
            if _holds_target(value):
                continue  # a node built by its own target, checked on its own
            value = OmegaConf.to_container(value, resolve=True, throw_on_missing=False)
        adapter = _adapter(hints[name]) if _hashable(hints[name]) else None
        if adapter is None:
            continue
        try:
            adapter.validate_python(value)
        except ValidationError as err:
            problem = err.errors()[0]
            place = "".join(f"[{p}]" for p in problem["loc"] if not isinstance(p, str))
            raise UserError(
                f"{key}.{name}={shown(value)}: {problem['msg']}{f' at {place}' if place else ''} "
                f"({owner} argument {name!r})"
            ) from None


def _holds_target(value: DictConfig | ListConfig) -> bool:
    return (
        isinstance(value, DictConfig)
        and "_target_" in value
        or (
            isinstance(value, ListConfig)
            and any(isinstance(v, DictConfig) and "_target_" in v for v in value)
        )
    )


@cache
def _signature_hints(target: Callable[..., Any]) -> dict[str, Any]:
    """Type hints of a target's parameters; for a class whose ``__init__`` takes ``**kwargs``, those of the bases'
    ``__init__`` it forwards them to as well (the nearest definition first)."""
    functions: list[Callable[..., Any]] = []
    if inspect.isclass(target):
        for cls in target.__mro__:
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            functions.append(init)
            if not _takes_var_keywords(init):
                break
    else:
        functions.append(target)
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


def _takes_var_keywords(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


@cache
def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(hint, config=_CONFIG)
    except Exception:  # a hint pydantic builds no validator for
        return None


def _hashable(hint: Any) -> bool:
    try:
        hash(hint)
    except TypeError:
        return False
    return True


def shown(value: Any) -> str:
    """A config value as the user would type it (``[512,512]``), for error messages."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value)
    return str(value).replace(" ", "").replace("'", "")
