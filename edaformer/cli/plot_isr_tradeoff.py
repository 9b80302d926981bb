"""``edaformer-plot-isr-tradeoff results=DIR_OR_FILE``: mIoU against GFLOPs (and latency) of ISR settings from
``edaformer-eval`` / ``edaformer-train`` results, the paper's Table 4 beside them when the rows are one of its
benchmarks (:mod:`edaformer.workflows.tradeoff`). Arguments: ``conf/plot_isr_tradeoff.yaml`` (``--help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.tradeoff import plot_tradeoff

    for r in plot_tradeoff(cfg):
        latency = f", {r.latency_ms:.1f} ms" if r.latency_ms is not None else ""
        print(
            f"{r.label:>10}  {r.isr:>16}  {r.gflops:.3f} GFLOPs  {100 * (r.score or 0):.2f} {r.metric}{latency}"
        )
    print(f"trade-off figure: {cfg.output}")


def main() -> int:
    """Entry point of ``edaformer-plot-isr-tradeoff`` (and ``scripts/plot_isr_tradeoff.py``)."""
    return run_command("plot_isr_tradeoff", _task)
