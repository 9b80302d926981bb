"""Latency, throughput and peak memory from a composed ``conf/benchmark.yaml`` (``edaformer-benchmark``): the
checked :class:`~edaformer.tools.benchmark.BenchmarkConfig`, the interleaved run and its result files."""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..data.benchmarks import BENCHMARKS
from ..devices import resolve_device
from ..errors import UserError
from ..models import parse_isr
from ..tools.benchmark import BenchmarkConfig, ModelSpec, Result, recipe_batch, results_table, run_benchmark
from ..tools.memory import cache_large_allocations
from .runtime import command_line

__all__ = ["BenchmarkRun", "benchmark", "benchmark_config"]

log = logging.getLogger("edaformer.benchmark")


def benchmark_config(cfg: DictConfig) -> BenchmarkConfig:
    """The :class:`BenchmarkConfig` of ``cfg``; the recipe's crop and batch with ``train=true`` when ``sizes`` /
    ``batch_sizes`` are null. Unknown models or ISR settings are a :class:`UserError`."""
    models, compare = [str(m) for m in cfg.models], [str(m) for m in cfg.compare]
    if not models and not compare:
        raise UserError("models=[] and compare=[]: nothing to benchmark")
    dataset = str(cfg.dataset)
    crop, batch = recipe_batch(dataset, [*models, *compare]) if cfg.train else ((512, 512), 1)
    sizes = OmegaConf.to_object(cfg.sizes) if cfg.sizes else [list(crop)]
    isr = [str(v) for v in cfg.isr_settings] or ["train"]
    for value in isr:
        try:
            parse_isr(value)
        except ValueError as err:
            raise UserError(f"isr_settings: {err}") from None
    for name in [*models, *compare]:
        try:
            ModelSpec.parse(name)
        except ValueError as err:
            raise UserError(f"models: {err}") from None
    return BenchmarkConfig(
        models=models,
        isr=isr,
        compare=compare,
        sizes=[(int(h), int(w)) for h, w in sizes],
        batches=[int(b) for b in cfg.batch_sizes] if cfg.batch_sizes else [batch],
        precisions=[str(p) for p in cfg.precisions],
        memory_formats=[str(m) for m in cfg.memory_formats],
        compile=bool(cfg.compile),
        train=bool(cfg.train),
        num_classes=BENCHMARKS[dataset].num_classes if cfg.num_classes is None else int(cfg.num_classes),
        output=str(cfg.output),
        device=str(resolve_device(str(cfg.device))),
        repeats=int(cfg.repeats),
        warmup=int(cfg.warmup),
        measure_memory=bool(cfg.memory),
    )


@dataclass
class BenchmarkRun:
    """A finished benchmark: the header (command, machine), the Markdown table, every timing, the files."""

    header: str
    table: str
    results: list[Result]
    files: list[Path]


def benchmark(cfg: DictConfig) -> BenchmarkRun:
    """Run the benchmark of ``cfg`` and write ``benchmark.md`` and ``benchmark.json`` into ``cfg.output_dir``."""
    config = benchmark_config(cfg)
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    malloc = cache_large_allocations() if cfg.malloc_cache else False
    try:
        results = run_benchmark(config, log=log.info)
    except (ValueError, ImportError) as err:
        raise UserError(str(err)) from None
    header = (
        f"`{command_line('edaformer-benchmark')}`  \n"
        f"device {config.device} ({machine(config.device)}); {config.num_classes} classes; output {config.output}; "
        f"{config.repeats} timed runs after {config.warmup} warm-up, interleaved"
        + ("; malloc cache on" if malloc else "")
    )
    table = results_table(results, baselines=list(config.compare))
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.md").write_text(header + "\n\n" + table + "\n")
    payload = [{**asdict(r), "median_ms": r.median_ms, "images_per_s": r.images_per_s} for r in results]
    (out / "benchmark.json").write_text(json.dumps({"header": header, "results": payload}, indent=1))
    return BenchmarkRun(header, table, results, [out / "benchmark.md", out / "benchmark.json"])


def machine(device: str) -> str:
    """The processor and threads (CPU) or the GPU's name, for result headers."""
    if device == "cpu":
        return (
            f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}"
        )
    return torch.cuda.get_device_name(torch.device(device))
