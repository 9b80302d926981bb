"""The benchmark table: latency, throughput and peak memory of segmentors (ours × ISR settings, and SegFormer
baselines), timed interleaved in one run (``edaformer-benchmark``, ``edaformer-gpu-check``).

A run (:class:`BenchmarkConfig`) times every model × ISR setting × size × batch × precision × memory layout; each
(size, batch, precision, layout) group is one interleaved timing (:func:`~edaformer.tools.timing.time_interleaved`)
with the peak memory of one call per model (:func:`~edaformer.tools.memory.track_peak_memory`). Throughput is
``batch / median latency`` (images/s). With ``output="labels"`` every model returns the label map: ours through
``EDAFormer.predict`` (no full-resolution logits), the baselines (:mod:`~edaformer.tools.baselines`) as logits →
upsampling → argmax.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ..data.benchmarks import benchmark
from ..evaluation.acceleration import Precision, accelerate
from ..flops import count_flops
from ..models import EmbeddingFreeAttention, UnfusedEmbeddingFreeAttention, create_model
from ..tables import markdown_table
from .baselines import SEGFORMER_VARIANTS, OutputRes, count_baseline_flops, segformer_baseline
from .memory import PeakMemory, track_peak_memory
from .timing import MemoryFormat, inference_call, prepare, random_batch, time_interleaved, train_call

MODEL_FLAGS = ("unfused", "compile", "bf16")


# --------------------------------------------------------------------------------------------------- models
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


# --------------------------------------------------------------------------------------------------- results
@dataclass
class Result:
    """Timings (seconds) and peak memory of one model in one setting."""

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


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f}"


def results_table(results: Sequence[Result], baselines: Sequence[str] = ()) -> str:
    """Markdown table of ``results``, with one speed-up column per baseline label (``baseline ms / model ms``).

    Ratios compare rows of the same layout, size, batch, precision and mode only; ``>1`` means faster than the
    baseline. Memory in MiB (CPU: peak resident set, ``*`` when the peak could not be reset, and the rise).
    """
    cuda = next((r.memory.kind for r in results if r.memory is not None), "rss") == "cuda"
    mem_cols = ["peak alloc (MiB)"] if cuda else ["peak RSS (MiB)", "rise (MiB)"]
    header = ["model", "layout", "input", "batch", "prec", "GFLOPs", "median ms", "min ms", "max ms", "img/s"]
    header += [*mem_cols, *(f"× vs {b}" for b in baselines)]
    by_key = {(r.label, r.variant, r.size, r.batch, r.precision, r.mode): r for r in results}
    rows = []
    for r in results:
        mem = ["—"] * len(mem_cols)
        if r.memory is not None:
            peak = _mib(r.memory.peak) + ("" if r.memory.exact or cuda else "*")
            mem = [peak] if cuda else [peak, _mib(r.memory.rise)]
        row = [
            r.label,
            r.variant,
            f"{r.size[0]}×{r.size[1]}",
            r.batch,
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
        rows.append(row)
    return markdown_table(header, rows)


# --------------------------------------------------------------------------------------------------- runs
def recipe_batch(dataset: str, model_names: Sequence[str]) -> tuple[tuple[int, int], int]:
    """Training crop and per-GPU batch of ``dataset``'s recipe (:mod:`edaformer.data.benchmarks`) for the first
    EDAFormer model named (``edaformer_b:compile`` → B's batch); T's batch when none is named or the variant has
    no recipe (``edaformer_mini``)."""
    facts = benchmark(dataset)
    for text in model_names:
        name = ModelSpec.parse(text).name
        if name.startswith("edaformer_"):
            variant = name.removeprefix("edaformer_")
            return facts.train_crop, facts.batch_per_gpu.get(variant, facts.batch_per_gpu["t"])
    return facts.train_crop, facts.batch_per_gpu["t"]


@dataclass
class BenchmarkConfig:
    """One interleaved run: every model × ISR × size × batch × precision × layout, timed together.

    ``isr`` applies to EDAFormer models (baselines appear once per setting group); in ``train`` mode ISR is
    ignored (training uses the training ratios by definition). ``precisions`` and ``compile`` apply to every
    model (inference: :func:`~edaformer.evaluation.acceleration.accelerate`; training: ``bf16`` is autocast
    mixed precision); a model's own flags (``edaformer_t:compile+bf16``) add to them. Sizes are ``(H, W)``.
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


def _gflops(spec: ModelSpec, num_classes: int, size: tuple[int, int], batch: int) -> float:
    if spec.is_baseline:
        with torch.device("meta"):  # shapes only
            baseline = spec.build(num_classes)
        return count_baseline_flops(baseline, (3, *size), batch)
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
