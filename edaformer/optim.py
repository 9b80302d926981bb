"""Parameter groups and learning-rate schedules of the authors' recipes (plain PyTorch, no Lightning).

Segmentation (MMSeg ``paramwise_cfg``): the authors match name fragments, first match wins, in this order:
``pos_block`` (decay ×0; EFT has none), ``head`` (lr ×10), ``norm`` (decay ×0). We say the same thing with module
types: everything inside the decode head gets lr ×10 *and keeps* weight decay (its LayerNorms and BatchNorm too,
because ``head`` is matched before ``norm``); the encoder's normalisation layers get no weight decay.

Classification (DeiT / PVT): no weight decay on normalisation layers and biases; the learning rate follows the
global batch linearly (:func:`scale_lr`, DeiT's ``lr × batch × world_size / 512``).

Groups carry ``lr_mult`` and ``decay_mult``; :func:`build_optimizer` turns them into per-group ``lr`` and
``weight_decay`` before any scheduler reads ``initial_lr``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

log = logging.getLogger("edaformer")

NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
)


@dataclass(frozen=True)
class ParamRule:
    """One parameter-group rule: ``applies(module_name, module, param_name)`` → lr and weight-decay multipliers."""

    name: str
    applies: Callable[[str, nn.Module, str], bool]
    lr_mult: float = 1.0
    decay_mult: float = 1.0


def _inside(prefix: str) -> Callable[[str, nn.Module, str], bool]:
    return lambda module_name, _module, _param: module_name == prefix or module_name.startswith(prefix + ".")


def _is_norm(_module_name: str, module: nn.Module, _param: str) -> bool:
    return isinstance(module, NORM_LAYERS)


def _is_bias(_module_name: str, _module: nn.Module, param: str) -> bool:
    return param == "bias"


def segmentation_rules(head: str = "decode_head", head_lr_mult: float = 10.0) -> list[ParamRule]:
    """The authors' EDAFormer rules: decode head lr ×``head_lr_mult`` (decay kept), other norms decay ×0."""
    return [
        ParamRule("head", _inside(head), lr_mult=head_lr_mult),
        ParamRule("norm", _is_norm, decay_mult=0.0),
    ]


def classification_rules() -> list[ParamRule]:
    """DeiT/PVT: no weight decay on normalisation layers and biases."""
    return [ParamRule("no_decay", lambda n, m, p: _is_norm(n, m, p) or _is_bias(n, m, p), decay_mult=0.0)]


def param_groups(net: nn.Module, rules: Sequence[ParamRule]) -> list[dict[str, Any]]:
    """Split ``net``'s trainable parameters by the first rule that applies (``default`` when none does).

    Returns one group per rule that matched something, each ``{"params", "param_names", "rule", "lr_mult",
    "decay_mult"}`` (``param_names`` in the same order as ``params``; optimizers keep extra keys).
    """
    groups: dict[str, dict[str, Any]] = {}
    default = ParamRule("default", lambda *_: True)
    for module_name, module in net.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            rule = next((r for r in rules if r.applies(module_name, module, param_name)), default)
            group = groups.setdefault(
                rule.name,
                {"params": [], "param_names": [], "rule": rule.name, "lr_mult": rule.lr_mult,
                 "decay_mult": rule.decay_mult},
            )  # fmt: skip
            group["params"].append(param)
            group["param_names"].append(f"{module_name}.{param_name}" if module_name else param_name)
    order = [r.name for r in rules] + ["default"]
    return [groups[name] for name in order if name in groups]


def build_optimizer(
    optimizer: Callable[..., torch.optim.Optimizer], groups: Iterable[dict[str, Any]]
) -> torch.optim.Optimizer:
    """Call an optimizer factory (e.g. a Hydra ``_partial_`` AdamW) on ``groups`` and apply their multipliers.

    Each group's ``lr`` becomes ``base_lr · lr_mult`` and ``weight_decay`` becomes ``base_wd · decay_mult``.
    """
    opt = optimizer(params=[{k: v for k, v in g.items() if k != "param_names"} for g in groups])
    for group in opt.param_groups:
        group["lr"] = group["lr"] * group.get("lr_mult", 1.0)
        group["weight_decay"] = group.get("weight_decay", 0.0) * group.get("decay_mult", 1.0)
    return opt


def scale_lr(optimizer: torch.optim.Optimizer, global_batch: int, reference_batch: int) -> float:
    """DeiT's linear scaling rule: multiply every group's ``lr`` by ``global_batch / reference_batch``.

    ``global_batch`` counts every sample of one optimizer step (per-device batch × devices × nodes × gradient
    accumulation); e.g. 5e-4 at a reference of 512 becomes 1e-3 at 128 × 8 GPUs. Call before building the
    scheduler (it reads ``initial_lr`` from ``lr``). Returns the factor.
    """
    if global_batch < 1 or reference_batch < 1:
        raise ValueError(f"batch sizes must be >= 1, got global {global_batch}, reference {reference_batch}")
    factor = global_batch / reference_batch
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    return factor


@dataclass
class PolyWarmup:
    """LR factor of MMCV's ``PolyLrUpdaterHook`` with linear warm-up, by iteration ``step`` (0-based).

    ``poly(step) = (1 − min(step, total)/total) ** power`` (min lr 0); during the first ``warmup_steps`` the factor
    is ``poly(step) · (1 − (1 − step/warmup_steps)(1 − warmup_ratio))``, i.e. it starts at ``warmup_ratio``.
    A dataclass rather than a closure so that ``LambdaLR.state_dict()`` stores it as plain values.
    """

    total_steps: int
    warmup_steps: int = 1500
    warmup_ratio: float = 1e-6
    power: float = 1.0

    def __call__(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        factor = (1.0 - progress) ** self.power
        if step < self.warmup_steps:
            factor *= 1.0 - (1.0 - step / self.warmup_steps) * (1.0 - self.warmup_ratio)
        return factor


@dataclass
class CosineWarmup:
    """Per-iteration cosine decay to ``min_ratio`` after a linear warm-up from ``warmup_ratio`` (DeiT/timm style)."""

    total_steps: int
    warmup_steps: int
    warmup_ratio: float = 1e-3
    min_ratio: float = 1e-2

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.warmup_ratio + (1.0 - self.warmup_ratio) * step / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class StepSchedule(LambdaLR):
    """A :class:`LambdaLR` over a schedule with a length (``total_steps``) that belongs to the run, not to a
    checkpoint: resumed with another length (a longer ``max_steps``), the schedule is the new run's, so the lr
    continues on the schedule of the new length from the resumed step, and the optimizer's lr is set to it at once
    (never left at the old schedule's end, 0)."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        lengths = [getattr(fn, "total_steps", None) for fn in self.lr_lambdas]
        super().load_state_dict(state_dict)
        changed = False
        for fn, total in zip(self.lr_lambdas, lengths, strict=True):
            if total is None or fn.total_steps == total:
                continue
            old, fn.total_steps, changed = fn.total_steps, total, True
            log.info(
                "lr schedule over %d steps (the checkpoint's: %d): lr factor %.4g at step %d",
                total, old, fn(self.last_epoch), self.last_epoch,
            )  # fmt: skip
        if changed:
            for group, base, fn in zip(
                self.optimizer.param_groups, self.base_lrs, self.lr_lambdas, strict=True
            ):
                group["lr"] = base * fn(self.last_epoch)
            self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def poly_warmup_schedule(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 1500,
    warmup_ratio: float = 1e-6,
    power: float = 1.0,
) -> LambdaLR:
    """The authors' schedule: iteration-based poly (power 1, min lr 0) with linear warm-up; call once per step."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    return StepSchedule(optimizer, PolyWarmup(total_steps, warmup_steps, warmup_ratio, power))


def cosine_warmup_schedule(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int,
    warmup_ratio: float = 1e-3,
    min_ratio: float = 1e-2,
) -> LambdaLR:
    """Cosine schedule with linear warm-up, per iteration (ImageNet pre-training)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    return StepSchedule(optimizer, CosineWarmup(total_steps, warmup_steps, warmup_ratio, min_ratio))
