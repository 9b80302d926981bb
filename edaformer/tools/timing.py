"""Wall-clock timing of model calls: the interleaved harness and the calls it times.

**Latency** is the wall-clock seconds of one call (a forward pass, or a whole training step), after warm-up, with
the device synchronised before and after (CUDA). Calls of one run are timed **interleaved**: every repetition times
each call once, in an order rotated from repetition to repetition, so load from other processes on a shared machine
spreads over all of them instead of biasing whichever ran during a busy minute (:func:`time_interleaved`).
:func:`measure_latency` times one model under several ISR settings this way (the ISR search and the trade-off
figure use it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..data import IGNORE_INDEX
from ..evaluation.acceleration import Precision
from ..models import ISRLike, ISRSetting, isr_applied, parse_isr

MemoryFormat = Literal["contiguous", "channels_last"]


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    fns: Mapping[str, Callable[[], object]],
    repeats: int = 12,
    warmup: int = 2,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Seconds per call of every function, ``repeats`` timings each, measured interleaved.

    Each function is first called ``warmup`` times (allocator, oneDNN/cuDNN kernel selection, lazy init). Then
    every repetition calls each function once, the order rotated by one per repetition.
    """
    device = torch.device(device)
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            fns[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    settings: Sequence[ISRLike],
    size: Sequence[int],
    repeats: int = 10,
    warmup: int = 2,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Median milliseconds of one prediction (batch 1, ``size = (H, W)``) under each ISR setting.

    A prediction is what evaluation and ``predict`` run: ``model.predict`` (labels, without full-resolution
    logits) where the model has it, else ``model(images)``. Settings are timed interleaved
    (:func:`time_interleaved`), so load from other processes spreads over all of them; each pass runs under
    :func:`~edaformer.models.isr_applied`, so the model's own setting stays. Keys are the settings as given
    (``str(setting)``: ``"paper"``, ``"16,8,2,1-2,4,8"``).
    """
    device = torch.device(device)
    model = model.to(device).eval()
    images = torch.randn(1, 3, int(size[0]), int(size[1]), device=device)
    predict = getattr(model, "predict", model)

    def call(setting: ISRSetting) -> Callable[[], None]:
        def run() -> None:
            with isr_applied(model, setting):
                predict(images)

        return run

    times = time_interleaved({str(s): call(parse_isr(s)) for s in settings}, repeats, warmup, device)
    return {k: 1e3 * sorted(t)[len(t) // 2] for k, t in times.items()}


# --------------------------------------------------------------------------------------------------- calls
def prepare(model: nn.Module, device: torch.device, memory_format: MemoryFormat) -> nn.Module:
    """Move to ``device``; for ``channels_last`` also lay the 4-D weights out NHWC (values and keys unchanged)."""
    model = model.to(device)
    if memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    return model


def inference_call(model: nn.Module, images: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A no-argument callable running ``model(images)`` under ``inference_mode`` (compile / bf16: build ``model``
    with :func:`~edaformer.evaluation.acceleration.accelerate`)."""

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return model(images)

    return call


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """Mixed-precision training (``bf16``: autocast, float32 master weights, as Lightning's ``bf16-mixed``); a
    no-op for ``fp32``. Inference runs bfloat16 weights instead (:func:`~edaformer.evaluation.acceleration.accelerate`)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def train_call(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    precision: Precision = "fp32",
    lr: float = 6e-5,
) -> Callable[[], torch.Tensor]:
    """A no-argument callable doing one training step: forward → cross-entropy (ignore index 255) → backward →
    AdamW; returns the loss.

    Logits are compared at the label size (upsampled bilinearly when the model predicts at a lower
    resolution), as in the recipe. ``bf16`` is mixed precision (autocast).
    """
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=0.01)

    def call() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with autocast(images.device, precision):
            logits = model(images)
            if logits.shape[-2:] != labels.shape[-2:]:
                logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
            loss = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return call


def random_batch(
    batch: int, size: tuple[int, int], num_classes: int, device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised-looking images ``[B, 3, H, W]`` and labels ``[B, H, W]`` (10 % ignored)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, *size, generator=gen)
    labels = torch.randint(0, num_classes, (batch, *size), generator=gen)
    labels[torch.rand(batch, *size, generator=gen) < 0.1] = IGNORE_INDEX
    return images.to(device), labels.to(device)
