"""``edaformer-benchmark-data``: throughput of a dataset's training pipeline (decode + augment + collate) per
DataLoader worker, and its stages timed in the main process (:func:`edaformer.workflows.datasets.pipeline_speed`).
Arguments: ``conf/benchmark_data.yaml`` (``edaformer-benchmark-data --help``)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.datasets import pipeline_speed

    dm, speed = pipeline_speed(cfg)
    print(f"{type(dm).__name__} at {dm.root}: {speed.images} train images, batch {speed.batch_size}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    if speed.decode_ms is not None:
        print(
            f"main process: decode+validate {speed.decode_ms:.2f} ms/img, augment {speed.augment_ms:.2f} ms/img"
        )
    print(f"{'workers':>8} {'images/s':>10} {'images/s per worker':>20}")
    for n, rate in speed.images_per_s.items():
        print(f"{n:>8} {rate:>10.1f} {rate / max(n, 1):>20.1f}")


def main() -> int:
    """Entry point of ``edaformer-benchmark-data`` (and ``scripts/benchmark_data.py``)."""
    return run_command("benchmark_data", _task)
