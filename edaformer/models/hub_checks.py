"""Checks of an untrusted hub folder before any model is built from it.

A hub folder is two files anyone can edit: ``config.json`` says which model to build, ``model.safetensors`` holds
the weights. Building first and checking after would let a config allocate whatever it asks (``num_classes:
1e7`` is gigabytes). So :func:`read_config` parses ``config.json`` (a JSON object), :func:`check_config` bounds
every architecture value, :func:`read_weights_header` reads the names, shapes and dtypes of the weights from the
safetensors header (no tensor data read), and :func:`check_weights_fit` compares them with the model the config
describes, built on the ``meta`` device (shapes only, no memory). Each failure is one :class:`HubError` naming the
file and the field or tensor.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

__all__ = ["HubError", "check_config", "check_weights_fit", "read_config", "read_weights_header"]


class HubError(ValueError):
    """A hub folder or repo id that cannot be loaded (missing, offline, not ours, broken, weights that do not fit);
    commands report it as one line, exit status 2."""

    exit_status = 2


# Sane values of the architecture's arguments: (lowest, highest, integer?). Beyond them a config is broken or
# hostile, whatever the weights say (the weights are checked against the config afterwards).
ARGUMENT_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "num_classes": (0, 65536, True),  # labels are uint16 at most; 0: an EFT classifier without head
    "in_chans": (1, 64, True),
    "embed_dim": (1, 8192, True),
    "decoder_mlp_ratio": (1e-3, 64.0, False),
    "drop_path_rate": (0.0, 1.0, False),
    "decoder_drop_path": (0.0, 1.0, False),
    "dropout": (0.0, 1.0, False),
}
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` as a dict; invalid JSON or anything but a JSON object is a :class:`HubError`."""
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise HubError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise HubError(f"{path}: expected a JSON object of model settings, got {_json_type(config)}")
    return config


def check_config(config: Mapping[str, Any], source: str, factories: Mapping[str, Callable[..., Any]]) -> None:
    """The fields that decide what is built: ``model_name`` a known factory, ``model_args`` an object whose
    numbers lie in :data:`ARGUMENT_BOUNDS`, ``num_classes`` equal to ``model_args``'s."""
    name = config.get("model_name")
    if not isinstance(name, str) or name not in factories:
        raise HubError(
            f"{source}: model_name={name!r} is no model of edaformer; valid: {', '.join(sorted(factories))}"
        )
    args = config.get("model_args") or {}
    if not isinstance(args, dict):
        raise HubError(f"{source}: model_args must be a JSON object, got {_json_type(args)}")
    for key, value in args.items():
        if key in ARGUMENT_BOUNDS:
            _check_bound(f"{source}: model_args.{key}", value, *ARGUMENT_BOUNDS[key])
    classes = config.get("num_classes")
    if classes is not None:
        _check_bound(f"{source}: num_classes", classes, *ARGUMENT_BOUNDS["num_classes"])
        if "num_classes" in args and args["num_classes"] != classes:
            raise HubError(
                f"{source}: num_classes={classes} but model_args.num_classes={args['num_classes']}; they must agree"
            )


def _check_bound(field: str, value: Any, low: float, high: float, integer: bool) -> None:
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer()) and low <= value <= high
    if not ok:
        raise HubError(f"{field}={value!r}: expected {kind} in [{low:g}, {high:g}]")


def read_weights_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` of a safetensors file, from its header alone (safetensors checks the header and
    the data offsets against the file size); a file it refuses is a :class:`HubError`."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return {
                name: (f.get_slice(name).get_dtype(), tuple(f.get_slice(name).get_shape()))
                for name in f.keys()  # noqa: SIM118  (a safetensors file is no dict)
            }
    except (SafetensorError, OSError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise HubError(f"{path}: not a readable safetensors file ({reason})") from None


def check_weights_fit(
    build: Callable[[], torch.nn.Module],
    header: Mapping[str, tuple[str, tuple[int, ...]]],
    weights: str,
    config: str,
) -> None:
    """Every tensor of the model ``build()`` makes (on the ``meta`` device: no memory) is in ``header`` with its
    shape and a fitting dtype, and the header holds no other; else a :class:`HubError` naming the tensor."""
    with torch.device("meta"):
        wanted = {k: (v.is_floating_point(), tuple(v.shape)) for k, v in build().state_dict().items()}
    missing = [k for k in wanted if k not in header]
    unexpected = [k for k in header if k not in wanted]
    if missing or unexpected:
        raise HubError(
            f"{weights} does not hold the model {config} describes: {len(missing)} tensor(s) missing "
            f"{missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}"
        )
    for name, (floating, shape) in wanted.items():
        dtype, found = header[name]
        if found != shape:
            raise HubError(
                f"{weights}: tensor {name} has shape {list(found)}, but the model {config} describes needs "
                f"{list(shape)} (num_classes / model_args)"
            )
        if floating != (dtype in FLOAT_DTYPES):
            raise HubError(
                f"{weights}: tensor {name} is {dtype}, expected a {'floating-point' if floating else 'integer'} dtype"
            )


def _json_type(value: Any) -> str:
    return {list: "a list", type(None): "null", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
