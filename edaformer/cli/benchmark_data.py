"""``edaformer-benchmark-data``: throughput of a dataset's training pipeline (decode + augment + collate), per
DataLoader worker. Arguments: ``conf/benchmark_data.yaml`` (``edaformer-benchmark-data --help``).

Also times the stages in the main process (decode+validate, augment) so a slow op is easy to spot.
"""

from __future__ import annotations

import time

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from ..data.segmentation import SegmentationDataModule, collate
from .utils import CONF_DIR, UserError, as_count, as_list, report_user_errors, run_hydra_main


def time_loader(dataset, batch_size: int, workers: int, batches: int) -> float:
    """Images per second over ``batches`` batches after two warm-up batches."""
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers, collate_fn=collate
    )
    batches = min(batches, len(loader) - 2)
    if batches < 1:
        raise UserError(f"the train split has {len(dataset)} images: too few for 3 batches of {batch_size}")
    it = iter(loader)
    for _ in range(2):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    elapsed = time.perf_counter() - start
    del it
    return batches * batch_size / elapsed


def time_stages(dataset, count: int) -> tuple[float, float]:
    """Milliseconds per image for decode+validate and for the augmentation pipeline (main process)."""
    decode = augment = 0.0
    for i in range(count):
        t0 = time.perf_counter()
        image, mask = dataset.load(i % len(dataset))
        t1 = time.perf_counter()
        dataset.transform(image=image, mask=mask)
        decode, augment = decode + t1 - t0, augment + time.perf_counter() - t1
    return 1000 * decode / count, 1000 * augment / count


@hydra.main(config_path=str(CONF_DIR), config_name="benchmark_data", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    workers = [as_count(w, "workers", minimum=0) for w in as_list(cfg.workers)]
    batches = as_count(cfg.batches, "batches")
    torch.manual_seed(0)
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dataset = dm.dataset("train")
    batch_size = dm.batch_size if cfg.batch_size is None else as_count(cfg.batch_size, "batch_size")
    print(
        f"{type(dm).__name__} at {dm.root}: {len(dataset)} train images, batch {batch_size}, "
        f"torch threads {torch.get_num_threads()}"
    )
    if isinstance(dm, SegmentationDataModule):
        decode_ms, augment_ms = time_stages(dataset, min(len(dataset), 4 * batch_size))
        print(f"main process: decode+validate {decode_ms:.2f} ms/img, augment {augment_ms:.2f} ms/img")
    print(f"{'workers':>8} {'images/s':>10} {'images/s per worker':>20}")
    for n in workers:
        rate = time_loader(dataset, batch_size, n, batches)
        print(f"{n:>8} {rate:>10.1f} {rate / max(n, 1):>20.1f}")


def main() -> int:
    """Entry point of ``edaformer-benchmark-data`` (and ``scripts/benchmark_data.py``)."""
    return run_hydra_main(_main)
