"""Latency, throughput and peak-memory measurement for segmentors (ours and SegFormer baselines).

What is measured, and how:

- **Latency**: wall-clock seconds of one call (a forward pass, or a whole training step), after warm-up, with the
  device synchronised before and after (CUDA). Models of one run are timed **interleaved**: every repetition
  times each model once, in an order rotated from repetition to repetition, so load from other processes on a
  shared machine spreads over all models instead of biasing whichever ran during a busy minute.
- **Throughput**: ``batch / median latency`` (images/s).
- **Peak memory**: on CUDA ``torch.cuda.max_memory_allocated`` over one call; on CPU the process's peak resident
  set (``VmHWM``, reset through ``/proc/self/clear_refs`` before the call), reported both as the absolute peak and
  as the rise over the resident set just before the call (what the call itself needed: activations, workspace).

SegFormer baselines (``segformer-b0`` … ``segformer-b5``) are built from ``transformers`` configs with random
weights (no download) and wrapped to return logits at the input resolution, like our segmentor and like the
MMSegmentation whole-image inference the papers time; ``transformers`` is an optional extra (``pip install
'edaformer[compare]'``). With ``output="labels"`` every model returns the label map instead: ours through
``EDAFormer.predict`` (no full-resolution logits), SegFormer as logits → upsampling → argmax, which is what
``transformers``' own post-processing does.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..evaluation.acceleration import Precision, accelerate
from ..models import (
    EmbeddingFreeAttention,
    ISRLike,
    ISRSetting,
    UnfusedEmbeddingFreeAttention,
    create_model,
    isr_applied,
    parse_isr,
)

MemoryFormat = Literal["contiguous", "channels_last"]
OutputRes = Literal["full", "low", "labels"]

IGNORE_INDEX = 255

# SegFormer (MiT) variants as in the SegFormer paper / MMSegmentation configs; the rest are transformers' defaults.
SEGFORMER_VARIANTS: dict[str, dict] = {
    "segformer-b0": {"hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b1": {"hidden_sizes": [64, 128, 320, 512], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b2": {"hidden_sizes": [64, 128, 320, 512], "depths": [3, 4, 6, 3], "decoder_hidden_size": 768},
    "segformer-b3": {
        "hidden_sizes": [64, 128, 320, 512],
        "depths": [3, 4, 18, 3],
        "decoder_hidden_size": 768,
    },
    "segformer-b4": {
        "hidden_sizes": [64, 128, 320, 512],
        "depths": [3, 8, 27, 3],
        "decoder_hidden_size": 768,
    },
    "segformer-b5": {
        "hidden_sizes": [64, 128, 320, 512],
        "depths": [3, 6, 40, 3],
        "decoder_hidden_size": 768,
    },
}


# --------------------------------------------------------------------------------------------------- models
class SegFormerBaseline(nn.Module):
    """``transformers`` SegFormer returning logits ``[B, K, H, W]`` at the input size (bilinear, like ours).

    ``output="low"`` keeps the head's native 1/4 resolution instead; ``output="labels"`` returns
    ``argmax(1)`` of the input-size logits, ``int64 [B, H, W]``.
    """

    def __init__(self, net: nn.Module, output: OutputRes = "full") -> None:
        super().__init__()
        self.net = net
        self.output = output

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.net(pixel_values=images).logits  # (B, K, H/4, W/4)
        if self.output == "low":
            return logits
        logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return logits.argmax(1) if self.output == "labels" else logits


def segformer_baseline(name: str, num_classes: int = 150, output: OutputRes = "full") -> SegFormerBaseline:
    """Randomly initialised SegFormer ``name`` (``segformer-b0`` … ``segformer-b5``) from a ``transformers`` config.

    Raises ``ImportError`` (with the install hint) when ``transformers`` is missing.
    """
    if name not in SEGFORMER_VARIANTS:
        raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(SEGFORMER_VARIANTS)}")
    try:
        from transformers import SegformerConfig, SegformerForSemanticSegmentation
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "SegFormer baselines need the optional 'transformers' package: pip install 'edaformer[compare]'"
        ) from err
    config = SegformerConfig(num_labels=num_classes, **SEGFORMER_VARIANTS[name])
    return SegFormerBaseline(SegformerForSemanticSegmentation(config), output=output)


class OutputOf(nn.Module):
    """Our segmentor with ``forward`` routed to another of its methods: ``forward_low_res`` (logits at 1/8, no
    final upsampling) or ``predict`` (labels ``int64 [B, H, W]`` without full-resolution logits)."""

    def __init__(self, model: nn.Module, method: Literal["forward_low_res", "predict"]) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(images)


def use_unfused_attention(model: nn.Module) -> nn.Module:
    """Switch every EFA layer of ``model`` (in place) to the explicit ``q·kᵀ → softmax → ·v`` formulation.

    Same parameters, same state-dict keys; only the attention product changes. Returns ``model``.
    """
    for module in model.modules():
        if type(module) is EmbeddingFreeAttention:
            module.__class__ = UnfusedEmbeddingFreeAttention
    return model


MODEL_FLAGS = ("unfused", "compile", "bf16")


@dataclass(frozen=True)
class ModelSpec:
    """One benchmarked model: ``name[:flag+flag...]`` plus, for ours, an ISR setting.

    Flags: ``unfused`` (ours only: explicit attention product), ``compile`` and ``bf16`` (this model runs
    through :func:`~edaformer.evaluation.acceleration.accelerate` with them, on top of the run's ``compile`` /
    ``precisions``): ``edaformer_t:compile+bf16`` is timed in the same interleaved group as a float32 eager
    ``segformer-b0``. ``label`` is what the tables print, e.g. ``edaformer_t compile+bf16 (paper)``.
    """

    name: str
    isr: str | None = None
    unfused: bool = False
    compile: bool = False
    bf16: bool = False

    @property
    def is_baseline(self) -> bool:
        return self.name in SEGFORMER_VARIANTS

    @property
    def label(self) -> str:
        flags = [f for f in MODEL_FLAGS if getattr(self, f)]
        text = self.name + (" " + "+".join(flags) if flags else "")
        return f"{text} ({self.isr})" if self.isr is not None else text

    @classmethod
    def parse(cls, text: str, isr: str | None = None) -> ModelSpec:
        """``edaformer_t``, ``edaformer_t:unfused``, ``edaformer_t:compile+bf16``, ``segformer-b0:compile`` …
        (baselines take no ISR and no ``unfused``)."""
        name, _, tail = text.strip().partition(":")
        flags = [f for f in tail.split("+") if f] if tail else []
        unknown = [f for f in flags if f not in MODEL_FLAGS]
        if unknown or (tail and not flags):
            raise ValueError(
                f"unknown model flag {(unknown or [tail])[0]!r} in {text!r}; flags: {', '.join(MODEL_FLAGS)} "
                "(joined by '+', e.g. edaformer_t:compile+bf16)"
            )
        chosen = {f: f in flags for f in MODEL_FLAGS}
        if name in SEGFORMER_VARIANTS:
            if chosen["unfused"]:
                raise ValueError(f"{text!r}: ':unfused' applies to EDAFormer models only")
            return cls(name, **chosen)
        return cls(name, isr, **chosen)

    def build(self, num_classes: int, output: OutputRes = "full") -> nn.Module:
        """The model in eval mode on the CPU, in float32."""
        if self.is_baseline:
            return segformer_baseline(self.name, num_classes, output).eval()
        model = create_model(self.name, num_classes=num_classes, isr=self.isr)
        if self.unfused:
            use_unfused_attention(model)
        methods = {"low": "forward_low_res", "labels": "predict"}
        return (OutputOf(model, methods[output]) if output in methods else model).eval()


# --------------------------------------------------------------------------------------------------- runtime
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """Mixed-precision training (``bf16``: autocast, float32 master weights, as Lightning's ``bf16-mixed``); a
    no-op for ``fp32``. Inference runs bfloat16 weights instead (:func:`~edaformer.evaluation.acceleration.accelerate`)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def cache_large_allocations(limit_bytes: int = 1 << 30) -> bool:
    """Ask glibc's malloc to keep freed blocks up to ``limit_bytes`` in the heap instead of unmapping them.

    By default every tensor above ~32 MB is a fresh ``mmap`` whose pages are zero-filled by the kernel on first
    touch; at 512×512 with 150 classes the full-resolution logits alone are 157 MB, and page faults take half of
    their upsampling time. Reusing freed memory removes that cost for every model in the process alike (the
    resident set then stays at its high-water mark). Returns ``False`` where there is no glibc (macOS, musl).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_mmap_threshold, ctypes.c_int(min(limit_bytes, 2**31 - 1)))
    ok &= libc.mallopt(m_trim_threshold, ctypes.c_int(min(2 * limit_bytes, 2**31 - 1)))
    return bool(ok)


_STATUS = "/proc/self/status"


def _status_kib(field_name: str) -> int | None:
    try:
        with open(_STATUS) as f:
            match = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def current_rss() -> int | None:
    """Resident set size of this process in bytes (Linux), else ``None``."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (``VmHWM``) of this process; ``False`` if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int | None:
    """High-water mark of the resident set in bytes since start or the last :func:`reset_peak_rss`."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss cannot be reset, so it is a process-lifetime peak
        import resource
        import sys

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024
    return kib * 1024


@dataclass
class PeakMemory:
    """Peak memory of the calls made inside :func:`track_peak_memory`.

    ``peak`` is the absolute peak (CUDA: allocated bytes; CPU: resident set), ``before`` the value on entry and
    ``rise = peak - before`` what the tracked calls added. ``kind`` is ``"cuda"`` or ``"rss"``; ``exact`` is
    ``False`` when the CPU peak could not be reset (then ``peak`` may stem from earlier work).
    """

    kind: str = "rss"
    before: int = 0
    peak: int = 0
    exact: bool = True

    @property
    def rise(self) -> int:
        return max(0, self.peak - self.before)


@contextlib.contextmanager
def track_peak_memory(device: torch.device) -> Iterator[PeakMemory]:
    """Context manager measuring the peak memory of its body on ``device`` (see :class:`PeakMemory`)."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = PeakMemory("cuda", before=torch.cuda.memory_allocated(device))
        yield result
        synchronize(device)
        result.peak = torch.cuda.max_memory_allocated(device)
        return
    exact = reset_peak_rss()
    result = PeakMemory("rss", before=current_rss() or 0, exact=exact)
    yield result
    result.peak = peak_rss() or 0


# --------------------------------------------------------------------------------------------------- timing
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


@dataclass
class Result:
    """Timings and peak memory of one model in one setting."""

    label: str
    size: tuple[int, int]
    batch: int
    precision: str
    mode: str  # "inference" or "train"
    variant: str = "contiguous"  # memory format, "+compile" when torch.compile'd
    times: list[float] = field(default_factory=list)
    memory: PeakMemory | None = None
    gflops: float | None = None
    baseline: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1e3

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1e3

    @property
    def max_ms(self) -> float:
        return max(self.times) * 1e3

    @property
    def images_per_s(self) -> float:
        return self.batch / statistics.median(self.times)


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


def train_call(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    precision: Precision = "fp32",
    lr: float = 6e-5,
) -> Callable[[], float]:
    """A no-argument callable doing one training step: forward → cross-entropy (ignore 255) → backward → AdamW.

    Logits are compared at the label size (upsampled bilinearly when the model predicts at a lower
    resolution), as in the recipe. ``bf16`` is mixed precision (autocast). Returns the loss.
    """
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=0.01)

    def call() -> float:
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


# --------------------------------------------------------------------------------------------------- tables
def _fmt_bytes(n: int) -> str:
    return f"{n / 2**20:,.0f}"


def markdown_table(results: Sequence[Result], baselines: Sequence[str] = ()) -> str:
    """Markdown table of ``results``, with one speed-up column per baseline label (``baseline ms / model ms``).

    Ratios compare rows of the same layout, size, batch, precision and mode only; ``>1`` means faster than the baseline.
    """
    mem_kind = next((r.memory.kind for r in results if r.memory is not None), "rss")
    mem_cols = ["peak alloc (MiB)"] if mem_kind == "cuda" else ["peak RSS (MiB)", "rise (MiB)"]
    header = [
        "model",
        "layout",
        "input",
        "batch",
        "prec",
        "GFLOPs",
        "median ms",
        "min ms",
        "max ms",
        "img/s",
        *mem_cols,
    ]
    header += [f"× vs {b}" for b in baselines]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    by_key = {(r.label, r.variant, r.size, r.batch, r.precision, r.mode): r for r in results}
    for r in results:
        mem = ["—"] * len(mem_cols)
        if r.memory is not None:
            mem = (
                [_fmt_bytes(r.memory.peak)]
                if mem_kind == "cuda"
                else [
                    _fmt_bytes(r.memory.peak) + ("" if r.memory.exact else "*"),
                    _fmt_bytes(r.memory.rise),
                ]
            )
        row = [
            r.label,
            r.variant,
            f"{r.size[0]}×{r.size[1]}",
            str(r.batch),
            r.precision,
            "—" if r.gflops is None else f"{r.gflops:.1f}",
            f"{r.median_ms:.1f}",
            f"{r.min_ms:.1f}",
            f"{r.max_ms:.1f}",
            f"{r.images_per_s:.2f}",
            *mem,
        ]
        for b in baselines:
            base = by_key.get((b, r.variant, r.size, r.batch, r.precision, r.mode))
            row.append("—" if base is None else f"{base.median_ms / r.median_ms:.2f}×")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------- runs
# Recipe crop and per-GPU batch (the authors' configs, docs/reproducing.md): dataset -> (crop, {variant: batch}).
TRAIN_RECIPES: dict[str, tuple[tuple[int, int], dict[str, int]]] = {
    "ade20k": ((512, 512), {"t": 4, "b": 4}),
    "cityscapes": ((1024, 1024), {"t": 2, "b": 1}),
    "coco_stuff": ((512, 512), {"t": 4, "b": 4}),
}
DATASET_CLASSES = {"ade20k": 150, "cityscapes": 19, "coco_stuff": 171}


def recipe_batch(dataset: str, model_names: Sequence[str]) -> tuple[tuple[int, int], int]:
    """Crop and per-GPU batch of ``dataset``'s recipe for the first EDAFormer model named (T's batch if none)."""
    crop, batches = TRAIN_RECIPES[dataset]
    for name in model_names:
        if name.startswith("edaformer_"):
            return crop, batches[name.removeprefix("edaformer_")]
    return crop, batches["t"]


@dataclass
class BenchmarkConfig:
    """One interleaved run: every model × ISR × size × batch × precision × layout, timed together.

    ``isr`` applies to EDAFormer models (baselines appear once per setting group); in ``train`` mode ISR is
    ignored (training uses the training ratios by definition). ``precisions`` and ``compile`` apply to every
    model (inference: :func:`~edaformer.evaluation.acceleration.accelerate`; training: ``bf16`` is autocast
    mixed precision); a model's own flags (``edaformer_t:compile+bf16``) add to them.
    """

    models: Sequence[str] = ("edaformer_t",)
    isr: Sequence[str] = ("train",)
    compare: Sequence[str] = ()
    sizes: Sequence[tuple[int, int]] = ((512, 512),)
    batches: Sequence[int] = (1,)
    precisions: Sequence[Precision] = ("fp32",)
    memory_formats: Sequence[MemoryFormat] = ("contiguous",)
    compile: bool = False
    train: bool = False
    num_classes: int = 150
    output: OutputRes = "full"
    device: str = "cpu"
    repeats: int = 12
    warmup: int = 2
    measure_memory: bool = True
    seed: int = 0


def model_specs(config: BenchmarkConfig) -> list[ModelSpec]:
    """Baselines first (so ratio columns read left to right), then ours × ISR settings."""
    specs = [ModelSpec.parse(name) for name in config.compare]
    for spec in specs:
        if not spec.is_baseline:
            raise ValueError(
                f"compare= takes SegFormer baselines ({', '.join(SEGFORMER_VARIANTS)}), got {spec.name!r}"
            )
    isr_settings: Sequence[str | None] = (None,) if config.train else config.isr
    for name in config.models:
        for isr in isr_settings:
            spec = ModelSpec.parse(name, isr)
            if spec.is_baseline:
                if spec not in specs:
                    specs.append(spec)
                continue
            specs.append(spec)
    return specs


def _gflops(spec: ModelSpec, num_classes: int, size: tuple[int, int], batch: int) -> float | None:
    if spec.is_baseline:
        return None
    from ..flops import count_flops

    model = create_model(spec.name, num_classes=num_classes, isr=spec.isr)
    return count_flops(model, input_shape=(3, *size), batch_size=batch)


def run_benchmark(config: BenchmarkConfig, log: Callable[[str], None] = print) -> list[Result]:
    """Run ``config``: one interleaved timing group per (size, batch, precision, layout); returns all results."""
    device = torch.device(config.device)
    specs = model_specs(config)
    results: list[Result] = []
    mode = "train" if config.train else "inference"
    for size in config.sizes:
        for batch in config.batches:
            images, labels = random_batch(batch, size, config.num_classes, device, seed=config.seed)
            for precision in config.precisions:
                for memory_format in config.memory_formats:
                    variant = memory_format + ("+compile" if config.compile else "")
                    x = (
                        images.contiguous(memory_format=torch.channels_last)
                        if memory_format == "channels_last"
                        else images
                    )
                    calls: dict[str, Callable[[], object]] = {}
                    group: dict[str, Result] = {}
                    for spec in specs:
                        torch.manual_seed(config.seed)
                        model = prepare(spec.build(config.num_classes, config.output), device, memory_format)
                        compiled = config.compile or spec.compile
                        run_precision = "bf16" if spec.bf16 else precision
                        if config.train:
                            call = train_call(accelerate(model, compiled), x, labels, run_precision)
                        else:
                            call = inference_call(accelerate(model, compiled, run_precision), x)
                        calls[spec.label] = call
                        group[spec.label] = Result(
                            spec.label,
                            size,
                            batch,
                            precision,
                            mode,
                            variant,
                            gflops=_gflops(spec, config.num_classes, size, batch),
                            baseline=spec.is_baseline,
                        )
                    log(
                        f"[{mode}] {size[0]}x{size[1]} batch {batch} {precision} {variant}: {', '.join(calls)}"
                    )
                    if config.measure_memory:
                        for label, call in calls.items():
                            call()  # first call: lazy init, compilation, optimizer state
                            gc.collect()
                            with track_peak_memory(device) as mem:
                                call()
                            group[label].memory = mem
                    times = time_interleaved(calls, config.repeats, config.warmup, device)
                    for label, t in times.items():
                        group[label].times = t
                        log(f"  {label:32s} median {group[label].median_ms:9.1f} ms")
                    results.extend(group.values())
                    del calls
    return results


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
