"""``edaformer-benchmark``: latency, throughput and peak memory of EDAFormer (× ISR settings) against SegFormer,
timed interleaved (:mod:`edaformer.workflows.benchmark`; docs/benchmarks.md holds the tables it produced).
Arguments: ``conf/benchmark.yaml`` (``edaformer-benchmark --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.benchmark import benchmark

    run = benchmark(cfg)
    print(run.header + "\n\n" + run.table)
    print(f"\nwrote {run.files[0]} and {run.files[1].name}")


def main() -> int:
    """Entry point of ``edaformer-benchmark`` (and ``scripts/benchmark.py``)."""
    return run_command("benchmark", _task)
