"""What a schema's types cannot say: the ranges of the commands' values and the values a run cannot do without.

:data:`RANGES` is the one table of value ranges (``size`` >= 1, ``alpha`` in [0, 1], ``[H, W]`` pairs);
:func:`check_ranges` reads it for a command before its work starts. :func:`check_required` finds values left out
(``???``, or null where an experiment lists them in ``required_values``) and says how to give them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..errors import UserError
from ..results import RESULT_FILES
from .arguments import shown

__all__ = [
    "RANGES",
    "Range",
    "check_ranges",
    "check_required",
    "check_unused_run_dir",
    "missing_value_message",
]


@dataclass(frozen=True)
class Range:
    """Bounds of a number, or of every number of a list; ``pair``: ``[H, W]`` (or a list of them)."""

    minimum: float | None = None
    maximum: float | None = None
    pair: bool = False
    above: float | None = None  # exclusive lower bound (a learning rate > 0)
    min_items: int = 0  # a list: its least length

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is out of range, or ``None``."""
        if isinstance(value, list | tuple) and len(value) < self.min_items:
            return f"expected at least {self.min_items} value{'s' if self.min_items > 1 else ''}"
        if self.pair and any(len(side) != 2 for side in _innermost_lists(value)):
            return "expected [H,W] in pixels, e.g. [512,512]"
        numbers = list(_numbers(value))
        low = self.minimum is not None and any(n < self.minimum for n in numbers)
        high = self.maximum is not None and any(n > self.maximum for n in numbers)
        if self.above is not None and any(n <= self.above for n in numbers):
            return f"expected a number > {self.above:g}"
        if not (low or high):
            return None
        if self.maximum is not None:
            return f"expected a number in [{self.minimum:g}, {self.maximum:g}]"
        return f"{'sides' if self.pair else 'values'} must be >= {self.minimum:g}"


COUNT, COUNT_OR_ZERO, SIDE, NETWORK_INPUT = Range(1), Range(0), Range(1, pair=True), Range(32, pair=True)
POSITIVE, NOT_EMPTY = Range(above=0), Range(min_items=1)

# The data loading keys of every command that reads a dataset with a DataModule (null: the DataModule's default).
# A crop below 32 px cannot pass the four stride-2 stages; other sides are fine (the patch embeddings pad).
DATA_LOADING = {
    "data.batch_size": COUNT,
    "data.val_batch_size": COUNT,
    "data.num_workers": COUNT_OR_ZERO,
    "data.crop_size": NETWORK_INPUT,
}
# What a training run reads besides: a validation interval of N steps (or a fraction of an epoch) and a learning rate.
TRAINING = {
    "model.optimizer.lr": POSITIVE,
    "trainer.val_check_interval": POSITIVE,
    "trainer.log_every_n_steps": COUNT,
    "trainer.accumulate_grad_batches": COUNT,
    "global_batch": COUNT,
}

# command -> key -> range (null values are not checked: they mean "the default")
RANGES: dict[str, dict[str, Range]] = {
    "train": {
        "checkpoint_every_n_steps": COUNT,
        "checkpoint_every_minutes": Range(0.01),
        "flops_size": SIDE,
        **DATA_LOADING,
        **TRAINING,
    },
    "eval": {"flops_size": SIDE, **DATA_LOADING},
    "isr_search": {
        **DATA_LOADING,
        "flops_size": NETWORK_INPUT,
        "search.trials": COUNT,
        "search.max_trials": COUNT,
        "search.multipliers": COUNT,
        "search.encoder": COUNT,
        "search.decoder": COUNT,
        "search.val_images": COUNT,
        "search.latency_repeats": COUNT,
    },
    "predict": {"alpha": Range(0, 1), "max_image_pixels": COUNT, "crop_size": SIDE, "stride": SIDE},
    "visualize_attention": {"max_image_pixels": COUNT},
    "complexity": {"size": SIDE, "num_classes": COUNT},
    "profile": {
        "size": NETWORK_INPUT,
        "num_classes": COUNT,
        "batch_size": COUNT,
        "runs": COUNT,
        "rows": COUNT,
        "threads": COUNT,
    },  # fmt: skip
    "export": {"size": NETWORK_INPUT, "num_classes": COUNT, "opset": COUNT},
    "benchmark": {
        "sizes": NETWORK_INPUT,
        "batch_sizes": COUNT,
        "num_classes": COUNT,
        "threads": COUNT,
        "repeats": COUNT,
        "warmup": COUNT_OR_ZERO,
    },  # fmt: skip
    "benchmark_data": {"batches": COUNT, "workers": COUNT_OR_ZERO, "batch_size": COUNT, **DATA_LOADING},
    "browse_dataset": {"n": COUNT, "columns": COUNT, "alpha": Range(0, 1), **DATA_LOADING},
    "check_dataset": {"max_listed": COUNT_OR_ZERO, "splits": NOT_EMPTY, **DATA_LOADING},
    "prepare_cityscapes": {"nproc": COUNT},
    "prepare_coco_stuff": {"nproc": COUNT},
    "gpu_check": {"repeats": COUNT},
    "plot_isr_tradeoff": {"size": SIDE, "repeats": COUNT, "dpi": COUNT},
}


def check_ranges(cfg: DictConfig, command: str) -> None:
    """The first value of ``command``'s config outside its :data:`RANGES` entry is a
    :class:`~edaformer.errors.UserError` naming the key and the value."""
    for key, bounds in RANGES.get(command, {}).items():
        value = OmegaConf.select(cfg, key)
        if value is None:
            continue
        plain = OmegaConf.to_container(value, resolve=True) if isinstance(value, ListConfig) else value
        problem = bounds.problem(plain)
        if problem is not None:
            raise UserError(f"{key}={shown(plain)}: {problem}")


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


def _innermost_lists(value: Any) -> Iterator[list[Any]]:
    if isinstance(value, list | tuple) and value and all(isinstance(v, list | tuple) for v in value):
        for item in value:
            yield from _innermost_lists(item)
    else:
        yield list(value) if isinstance(value, list | tuple) else [value]


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


def check_required(cfg: DictConfig, filled_by_the_run: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """A value left out is a :class:`~edaformer.errors.UserError` before any work: a ``???`` anywhere in the
    config (but ``filled_by_the_run``, e.g. ``model.num_classes`` of a training, taken from the data) or a key the
    config lists in ``required_values`` (an experiment's ``model.init_from``) that is null."""
    missing = sorted(set(_missing_keys(OmegaConf.to_container(cfg, resolve=False))) - set(filled_by_the_run))
    missing += [key for key in cfg.get("required_values") or [] if OmegaConf.select(cfg, key) is None]
    if missing:
        raise UserError(missing_value_message(missing[0]))


def _missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is ``???`` in a plain (unresolved) config container."""
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in _missing_keys(value, f"{prefix}{key}.")]
    return [prefix[:-1]] if node == "???" else []


# What an earlier run leaves in its run dir that a new one would replace (Hydra's .hydra/ and the log are not results).
RUN_RESULTS = ("checkpoints/*.ckpt", "metrics.csv", "*/metrics.csv", *RESULT_FILES)


def check_unused_run_dir(run_dir: str | os.PathLike, overwrite: bool) -> None:
    """A run dir given on purpose (``hydra.run.dir=``) that holds an earlier run's checkpoints, metrics or results
    is a :class:`~edaformer.errors.UserError` before any work, unless ``overwrite``: a new run would replace them.
    (Resuming with ``ckpt_path=`` continues a run and is not checked.)"""
    run_dir = Path(run_dir)
    found = sorted(p for pattern in RUN_RESULTS for p in run_dir.glob(pattern))
    if found and not overwrite:
        raise UserError(
            f"hydra.run.dir={run_dir} holds an earlier run ({found[0].relative_to(run_dir)}); resume it with "
            f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}, replace it with overwrite=true, or leave "
            "hydra.run.dir out for a new run dir"
        )
