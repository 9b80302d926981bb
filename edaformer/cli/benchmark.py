"""``edaformer-benchmark``: latency, throughput and peak memory of EDAFormer (× ISR settings) against SegFormer,
timed interleaved. Arguments: ``conf/benchmark.yaml`` (``edaformer-benchmark --help``); the measurement itself is
:mod:`edaformer.tools.benchmark`, and docs/benchmarks.md holds the tables it produced.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import asdict
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..data.benchmarks import BENCHMARKS
from ..evaluation.acceleration import PRECISIONS
from ..models import parse_isr
from ..tools.benchmark import BenchmarkConfig, ModelSpec, Result, recipe_batch, results_table, run_benchmark
from ..tools.memory import cache_large_allocations
from .utils import (
    CONF_DIR,
    UserError,
    as_choice,
    as_count,
    as_device,
    as_flag,
    as_list,
    as_size,
    report_user_errors,
    run_hydra_main,
)

log = logging.getLogger("edaformer.benchmark")


def benchmark_config(cfg: DictConfig) -> BenchmarkConfig:
    """The checked :class:`BenchmarkConfig` of ``conf/benchmark.yaml``."""
    models, compare = [str(m) for m in as_list(cfg.models)], [str(m) for m in as_list(cfg.compare)]
    if not models and not compare:
        raise UserError("models=[] and compare=[]: nothing to benchmark")
    dataset = as_choice(cfg.dataset, sorted(BENCHMARKS), "dataset")
    if cfg.train:
        crop, batch = recipe_batch(dataset, [*models, *compare])
        sizes, batch_sizes = cfg.sizes or [crop], cfg.batch_sizes or [batch]
    else:
        sizes, batch_sizes = cfg.sizes or [(512, 512)], cfg.batch_sizes or [1]
    sizes = as_list(sizes)
    if not all(isinstance(s, list | tuple) for s in sizes):
        shown = str(sizes).replace(" ", "")
        raise UserError(f"sizes={shown}: expected a list of [H,W], e.g. sizes=[[512,512],[1024,2048]]")
    isr = [str(v) for v in as_list(cfg.isr_settings)] or ["train"]
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
    for value in as_list(cfg.precisions):
        as_choice(value, PRECISIONS, "precisions")
    for value in as_list(cfg.memory_formats):
        as_choice(value, ("contiguous", "channels_last"), "memory_formats")
    return BenchmarkConfig(
        models=models,
        isr=isr,
        compare=compare,
        sizes=[as_size(s, "sizes", minimum=32) for s in sizes],
        batches=[as_count(b, "batch_sizes") for b in as_list(batch_sizes)],
        precisions=as_list(cfg.precisions),
        memory_formats=as_list(cfg.memory_formats),
        compile=as_flag(cfg.compile, "compile"),
        train=bool(cfg.train),
        num_classes=BENCHMARKS[dataset].num_classes
        if cfg.num_classes is None
        else as_count(cfg.num_classes, "num_classes"),
        output=as_choice(cfg.output, ("full", "low", "labels"), "output"),
        device=as_device(cfg.device),
        repeats=as_count(cfg.repeats, "repeats"),
        warmup=as_count(cfg.warmup, "warmup", minimum=0),
        measure_memory=bool(cfg.memory),
    )


def command_line() -> str:
    """``edaformer-benchmark`` followed by the overrides it was run with (for the result header)."""
    try:
        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:
        overrides = []
    return " ".join(["edaformer-benchmark", *overrides])


def write_results(out_dir: Path, header: str, table: str, results: list[Result]) -> None:
    """``benchmark.md`` (header + table) and ``benchmark.json`` (header + every timing) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmark.md").write_text(header + "\n\n" + table + "\n")
    payload = [{**asdict(r), "median_ms": r.median_ms, "images_per_s": r.images_per_s} for r in results]
    (out_dir / "benchmark.json").write_text(json.dumps({"header": header, "results": payload}, indent=1))


@hydra.main(config_path=str(CONF_DIR), config_name="benchmark", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    config = benchmark_config(cfg)
    if cfg.threads is not None:
        torch.set_num_threads(as_count(cfg.threads, "threads"))
    malloc = cache_large_allocations() if cfg.malloc_cache else False
    try:
        results = run_benchmark(config, log=log.info)
    except (ValueError, ImportError) as err:
        raise UserError(str(err)) from None
    machine = (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
        if config.device == "cpu"
        else torch.cuda.get_device_name(torch.device(config.device))
    )
    header = (
        f"`{command_line()}`  \n"
        f"device {config.device} ({machine}); {config.num_classes} classes; output {config.output}; "
        f"{config.repeats} timed runs after {config.warmup} warm-up, interleaved"
        + ("; malloc cache on" if malloc else "")
    )
    table = results_table(results, baselines=list(config.compare))
    print(header + "\n\n" + table)
    out_dir = Path(cfg.output_dir)
    write_results(out_dir, header, table, results)
    print(f"\nwrote {out_dir / 'benchmark.md'} and benchmark.json")


def main() -> int:
    """Entry point of ``edaformer-benchmark`` (and ``scripts/benchmark.py``)."""
    return run_hydra_main(_main)
