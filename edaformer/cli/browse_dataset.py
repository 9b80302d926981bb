"""``edaformer-browse-dataset data=... n=16``: training samples as the network sees them — after the augmentation
pipeline of ``conf/data/<name>.yaml`` (rescale, crop, flip, colour distortion, padding) — with the mask overlaid
and a legend of the classes present. Arguments: ``conf/browse_dataset.yaml`` (``edaformer-browse-dataset --help``).

Writes ``sample_<k>_<image name>.png`` (image | overlay | legend) and ``overview.png`` (all of them on a grid)
into the run dir or ``output_dir``; the way to check a pipeline before training on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import albumentations as A
import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from PIL import Image

from ..data.io import DatasetError
from ..data.segmentation import SegmentationDataModule
from ..viz.masks import contact_sheet, sample_panel
from .utils import CONF_DIR, UserError, as_choice, as_count, report_user_errors, run_hydra_main

log = logging.getLogger("edaformer.browse_dataset")


def to_display(image: torch.Tensor, pipeline: list) -> np.ndarray:
    """A pipeline's output ``float32 [3, h, w]`` → RGB ``uint8 [h, w, 3]``, undoing the pipeline's ``Normalize``."""
    x = image.permute(1, 2, 0).numpy().astype(np.float32)
    normalize = next((op for op in pipeline if isinstance(op, A.Normalize)), None)
    if normalize is not None:
        scale = float(normalize.max_pixel_value)
        x = x * np.asarray(normalize.std, np.float32) * scale + np.asarray(normalize.mean, np.float32) * scale
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


@hydra.main(config_path=str(CONF_DIR), config_name="browse_dataset", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    role = as_choice(cfg.split, ("train", "val", "test"), "split")
    count = as_count(cfg.n, "n")
    columns = as_count(cfg.columns, "columns")
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
    picks = np.random.default_rng(int(cfg.seed)).permutation(len(dataset))[:count]
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipeline = dm.train_pipeline if role == "train" else dm.eval_pipeline()
    panels = []
    for k, index in enumerate(picks.tolist()):
        sample = dataset[index]
        image, mask = to_display(sample["image"], pipeline), sample["mask"].numpy()
        if image.shape[:2] != mask.shape:  # val/test: labels keep the original size; show the image there
            image = np.asarray(Image.fromarray(image).resize(mask.shape[::-1], Image.BILINEAR))
        panel = sample_panel(image, mask, dm.class_names, dm.palette, float(cfg.alpha), dm.ignore_index)
        name = Path(dataset.pairs[index][0]).stem
        Image.fromarray(panel).save(out / f"sample_{k:03d}_{name}.png")
        panels.append(panel)
    Image.fromarray(contact_sheet(panels, columns)).save(out / "overview.png")
    print(f"{len(panels)} {role} samples of {type(dm).__name__} ({dm.root}) after the {role} pipeline: {out}")


def main() -> int:
    """Entry point of ``edaformer-browse-dataset`` (and ``scripts/browse_dataset.py``)."""
    return run_hydra_main(_main)
