"""Looking at a dataset through its DataModule: samples after the augmentation pipeline
(``edaformer-browse-dataset``) and the pipeline's throughput per DataLoader worker (``edaformer-benchmark-data``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..data.io import DatasetError
from ..data.segmentation import SegmentationDataModule, collate
from ..errors import UserError
from ..viz.masks import contact_sheet, sample_panel
from .components import build_datamodule

__all__ = ["PipelineSpeed", "browse_dataset", "pipeline_speed", "time_loader", "time_stages", "to_display"]


def browse_dataset(cfg: DictConfig) -> tuple[SegmentationDataModule, list[Path]]:
    """``cfg.n`` samples of ``cfg.split`` as the network receives them, each as ``sample_<k>_<name>.png`` (image
    | overlay | legend) plus ``overview.png`` in ``cfg.output_dir``; returns the DataModule and the files."""
    role = str(cfg.split)
    dm = instantiate(cfg.data)
    if not isinstance(dm, SegmentationDataModule):
        raise UserError(
            f"data: {type(dm).__name__} is not a segmentation dataset (browse_dataset shows masks)"
        )
    try:
        dm.prepare_data()
        dataset = dm.dataset(role)
    except DatasetError as err:
        raise UserError(str(err).splitlines()[0]) from None
    torch.manual_seed(int(cfg.seed))  # the augmentations draw from it
    picks = np.random.default_rng(int(cfg.seed)).permutation(len(dataset))[: int(cfg.n)]
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipeline = dm.train_pipeline if role == "train" else dm.eval_pipeline()
    panels, files = [], []
    for k, index in enumerate(picks.tolist()):
        sample = dataset[index]
        image, mask = to_display(sample["image"], pipeline), sample["mask"].numpy()
        if image.shape[:2] != mask.shape:  # val/test: labels keep the original size; show the image there
            image = np.asarray(Image.fromarray(image).resize(mask.shape[::-1], Image.BILINEAR))
        panel = sample_panel(image, mask, dm.class_names, dm.palette, float(cfg.alpha), dm.ignore_index)
        files.append(out / f"sample_{k:03d}_{Path(dataset.pairs[index][0]).stem}.png")
        Image.fromarray(panel).save(files[-1])
        panels.append(panel)
    files.append(out / "overview.png")
    Image.fromarray(contact_sheet(panels, int(cfg.columns))).save(files[-1])
    return dm, files


def to_display(image: torch.Tensor, pipeline: list) -> np.ndarray:
    """A pipeline's output ``float32 [3, h, w]`` → RGB ``uint8 [h, w, 3]``, undoing the pipeline's ``Normalize``."""
    x = image.permute(1, 2, 0).numpy().astype(np.float32)
    normalize = next((op for op in pipeline if isinstance(op, A.Normalize)), None)
    if normalize is not None:
        scale = float(normalize.max_pixel_value)
        x = x * np.asarray(normalize.std, np.float32) * scale + np.asarray(normalize.mean, np.float32) * scale
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


@dataclass
class PipelineSpeed:
    """The training pipeline of a dataset: its size, the batch, ms per image of its stages in the main process
    (segmentation data only) and images per second by number of workers."""

    images: int
    batch_size: int
    decode_ms: float | None
    augment_ms: float | None
    images_per_s: dict[int, float]


def pipeline_speed(cfg: DictConfig) -> tuple[object, PipelineSpeed]:
    """Time the training pipeline of ``cfg.data`` for every ``cfg.workers`` setting; returns the DataModule and
    the speeds."""
    torch.manual_seed(0)
    dm = build_datamodule(cfg.data)
    dataset = dm.dataset("train")
    batch_size = dm.batch_size if cfg.batch_size is None else int(cfg.batch_size)
    decode = augment = None
    if isinstance(dm, SegmentationDataModule):
        decode, augment = time_stages(dataset, min(len(dataset), 4 * batch_size))
    rates = {int(n): time_loader(dataset, batch_size, int(n), int(cfg.batches)) for n in cfg.workers}
    return dm, PipelineSpeed(len(dataset), batch_size, decode, augment, rates)


def time_loader(dataset: Dataset, batch_size: int, workers: int, batches: int) -> float:
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


def time_stages(dataset: Dataset, count: int) -> tuple[float, float]:
    """Milliseconds per image for decode+validate and for the augmentation pipeline (main process)."""
    decode = augment = 0.0
    for i in range(count):
        t0 = time.perf_counter()
        image, mask = dataset.load(i % len(dataset))
        t1 = time.perf_counter()
        dataset.transform(image=image, mask=mask)
        decode, augment = decode + t1 - t0, augment + time.perf_counter() - t1
    return 1000 * decode / count, 1000 * augment / count
