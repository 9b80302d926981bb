"""The models by name: one table, :data:`MODELS`, that :func:`create_model`, hub folders (``config.json``'s
``model_name``) and the optional timm registration (:mod:`.timm_registry`) all read.

A factory joins the table with :func:`register_model`, which also records on every model it builds how it was
built: ``model.model_name`` (the factory's name) and ``model.model_args`` (its keyword arguments, JSON-ready,
without ``isr`` and ``train_isr``, which the model reports itself). ``create_model(model.model_name,
**model.model_args)`` rebuilds the architecture; this is what a hub folder stores.

This module imports no model: the factories import it, so the table is complete once ``edaformer.models`` is
imported (which importing any of its modules does first).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

Factory = TypeVar("Factory", bound=Callable[..., nn.Module])

MODELS: dict[str, Callable[..., nn.Module]] = {}
"""Factory by name: ``edaformer_t``, ``edaformer_b``, ``eft_t``, ``eft_b``, ``eft_encoder``; ``edaformer_mini`` /
``eft_mini`` (small networks for tests and smoke runs, not in the paper)."""

_NOT_RECORDED = ("isr", "train_isr")  # the model reports these itself (model.isr, model.train_isr)


def json_value(value: Any) -> Any:
    """``value`` with tuples as lists and mapping keys as strings, as ``config.json`` stores it."""
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def register_model(factory: Factory) -> Factory:
    """Put ``factory`` in :data:`MODELS` under its function name; the models it builds record their factory name
    and arguments (``model_name``, ``model_args``)."""
    name = factory.__name__
    signature = inspect.signature(factory)

    @functools.wraps(factory)
    def build(*args: Any, **kwargs: Any) -> nn.Module:
        call = signature.bind(*args, **kwargs)  # an unknown keyword: TypeError naming it
        call.apply_defaults()
        model = factory(*call.args, **call.kwargs)
        model.model_name = name
        model.model_args = {k: json_value(v) for k, v in call.arguments.items() if k not in _NOT_RECORDED}
        return model

    MODELS[name] = build
    return build  # type: ignore[return-value]


def create_model(name: str, num_classes: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a model by name (``edaformer_t``, ``edaformer_b``, ``eft_t``, ``eft_b``, ``eft_encoder``;
    ``edaformer_mini`` / ``eft_mini``: small networks for tests and smoke runs, not in the paper).

    ``num_classes`` defaults (``None``) to the factory's: 150 for segmentors, 1000 for classifiers. ``kwargs`` are
    the factory's keyword arguments (e.g. ``drop_path_rate=0.1``, ``isr="paper"``; for ``eft_*``
    ``features_only=True, out_indices=(0, 1, 2, 3)`` gives the encoder as a backbone); an unknown one raises a
    ``TypeError`` that lists the valid ones. An unknown name is a ``ValueError`` listing the names.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}")
    factory = MODELS[name]
    valid = inspect.signature(factory).parameters
    unknown = [key for key in kwargs if key not in valid]
    if unknown:
        raise TypeError(
            f"{name}() got unexpected keyword argument(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    return factory(**kwargs)
