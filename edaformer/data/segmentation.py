"""Segmentation dataset and the DataModule base shared by ADE20K, Cityscapes, COCO-Stuff, custom and demo.

Batches:
    train: ``{"image": float32 [B, 3, h, w] normalised, "mask": int64 [B, h, w], "path": list[str]}`` (255 =
    ignore; the paths let a training that meets a NaN name the batch's images).
    val/test: ``{"image": float32 [B, 3, h32, w32], "mask": int64 [B, H0, W0], "path": list[str]}``: the
    image is resized by the val pipeline (sides multiples of 32) while the mask keeps the original
    resolution, because metrics are computed there (upsample the logits to the mask size). With ``tta`` the
    image is the original one, RGB ``uint8 [B, 3, H0, W0]``: multi-scale testing resizes and normalises it once
    per ratio, as the authors' ``MultiScaleFlipAug``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import albumentations as A
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from edaformer.data.benchmarks import benchmark
from edaformer.data.io import (
    IGNORE_INDEX,
    DatasetError,
    LabelMap,
    format_problems,
    pair_files,
    read_image,
    read_mask,
    require_dir,
)
from edaformer.data.resumable import ResumableDataLoader, ResumableSampler, SeededIndex, leave_signals_to_main
from edaformer.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AlignedResize,
    authors_train_pipeline,
    authors_val_pipeline,
    build_pipeline,
)

__all__ = ["SegmentationDataModule", "SegmentationDataset", "collate", "to_chw_tensor"]


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    """``[H, W, C]`` array → ``float32 [C, H, W]`` tensor."""
    if image.ndim == 2:
        image = image[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors, keep other values (paths) as lists; explain size mismatches instead of failing deep."""
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if isinstance(values[0], torch.Tensor):
            shapes = sorted({tuple(v.shape) for v in values})
            if len(shapes) > 1:
                raise DatasetError(
                    f"cannot batch {key!r} tensors of different shapes {shapes}; validation images keep "
                    "their own sizes, so use val_batch_size=1, and end a train pipeline with a fixed-size "
                    "crop and pad (RandomCropCatMax + PadIfNeeded)"
                )
            batch[key] = default_collate(values)  # stacks into shared memory inside workers
        else:
            batch[key] = values
    return batch


def _imagenet_normalize(op: A.Normalize) -> bool:
    """Whether ``op`` normalises with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD` (0-255 scale)."""
    scale = float(op.max_pixel_value or 1.0)
    return np.allclose(np.asarray(op.mean, float) * scale, IMAGENET_MEAN) and np.allclose(
        np.asarray(op.std, float) * scale, IMAGENET_STD
    )


class SeededTransform:
    """Holds an ``A.Compose`` and seeds its generators (one shared by all ops).

    Given a ``seed`` (a training sample's, from :class:`~edaformer.data.resumable.ResumableSampler`), the sample's
    augmentation depends on that seed only: the same in any worker and after a resume. Without one, the generators
    are seeded once per process from ``torch.initial_seed()``: in a DataLoader worker that is the worker's seed,
    drawn from the main process's generator for every new set of workers, so ``lightning.seed_everything(s)``
    makes the augmentations reproducible, different in each worker and different in each epoch.
    """

    def __init__(self, compose: A.Compose, salt: int = 0):
        self.compose = compose
        self.salt = salt
        self._seeded_for: tuple[int, int] | None = None

    def _seed(self, seed: int) -> None:
        seed = (seed + self.salt) % 2**63
        self.compose.set_random_state(np.random.default_rng(seed), random.Random(seed))

    def __call__(self, seed: int | None = None, **data: Any) -> dict[str, Any]:
        if seed is not None:
            self._seed(seed)
            self._seeded_for = None
        else:
            key = (os.getpid(), torch.initial_seed())
            if key != self._seeded_for:
                self._seed(torch.initial_seed())
                self._seeded_for = key
        return self.compose(**data)


class SegmentationDataset(Dataset):
    """Image/mask pairs → augmented tensors.

    Args:
        pairs: ``(image_path, mask_path)`` in a fixed order.
        label_map: raw mask value → train id table; invalid raw values raise :class:`DatasetError`.
        pipeline: albumentations ops. In ``train`` mode they receive image and mask; otherwise only the
            image (the returned mask is the original-size label).
        train: selects the output format (see module docstring).
        original_image: evaluation only: the image stays RGB ``uint8`` (the pipeline must not normalise it),
            as multi-scale testing needs.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        label_map: LabelMap,
        pipeline: Sequence[A.BasicTransform] | None,
        train: bool,
        original_image: bool = False,
    ):
        self.pairs = list(pairs)
        self.label_map = label_map
        self.train = train
        self.original_image = original_image and not train
        self.transform = SeededTransform(build_pipeline(pipeline), salt=0 if train else 1)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Decoded, validated ``(RGB uint8 [H, W, 3], train ids uint8 [H, W])`` before augmentation."""
        img_path, mask_path = self.pairs[index]
        image = read_image(img_path)
        raw = read_mask(mask_path)
        if raw.shape != image.shape[:2]:
            raise DatasetError(
                f"{mask_path}: mask is {raw.shape[0]}x{raw.shape[1]} (HxW) but its image {img_path.name} is "
                f"{image.shape[0]}x{image.shape[1]}; expected the same size"
            )
        return image, self.label_map.apply(raw, mask_path)

    def __getitem__(self, key: int | SeededIndex) -> dict[str, Any]:
        """The sample at ``key``: an index, or a :class:`~edaformer.data.resumable.SeededIndex` (an index and the
        seed of its augmentation)."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        image, mask = self.load(index)
        if self.train:
            out = self.transform(seed=seed, image=image, mask=mask)
            return {
                "image": to_chw_tensor(out["image"]),
                "mask": torch.from_numpy(out["mask"].astype(np.int64)),
                "path": str(self.pairs[index][0]),
            }
        out = self.transform(seed=seed, image=image)
        if self.original_image:
            chw = torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1)))
        else:
            chw = to_chw_tensor(out["image"])
        return {
            "image": chw,
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "path": str(self.pairs[index][0]),
        }


class SegmentationDataModule(L.LightningDataModule):
    """Base for folder-pair segmentation datasets; subclasses define the layout and the label convention.

    Built as it is (``ADE20KDataModule(root)``), a DataModule trains with the authors' recipe for its dataset: the
    sizes, batch and rescale range of its row of :data:`~edaformer.data.benchmarks.BENCHMARKS` (``recipe``; custom
    data starts from ADE20K's) and the authors' pipelines built from them
    (:func:`~edaformer.data.transforms.authors_train_pipeline`). Every argument overrides one part.

    Args:
        root: dataset root (see each subclass for the layout it expects).
        crop_size: training crop ``(height, width)``. Default: the recipe's ``train_crop``.
        test_scale: ``(long_edge, short_edge)`` bound of the test-time keep-ratio resize, and the base of the
            training rescale. Default: the recipe's.
        batch_size: training batch size per device. Default: the recipe's for EDAFormer-T.
        ratio_range: the training rescale's random ratio of ``test_scale``. Default: the recipe's (0.5-2).
        cat_max_ratio: the crop is re-drawn while one class covers this share of it (1.0: never). Default 0.75.
        flip_prob: probability of the horizontal flip. Default 0.5.
        photometric: brightness, contrast, saturation and hue jitter (mmseg's ``PhotoMetricDistortion``).
        train_pipeline / val_pipeline: albumentations ops that replace the authors' pipelines (then the five
            arguments above, except ``test_scale`` for :meth:`eval_input_size`, have no effect); ``[]`` is none.
        val_batch_size: validation/test batch size; 1 unless all images share one size.
        num_workers: loader processes; 0 loads in the main process.
        pin_memory / persistent_workers: passed to the DataLoaders.
        train_split / val_split / test_split: split folder names.
        tta: multi-scale/flip testing: validation/test images skip the val pipeline's :class:`AlignedResize` and
            ``Normalize`` and come as the original RGB ``uint8`` image, because the inference resizes and
            normalises it for every ratio, as the authors' ``MultiScaleFlipAug`` (see
            :class:`~edaformer.evaluation.InferenceConfig`).

    Attributes:
        num_classes, class_names, palette: training classes (index = train id).
        ignore_index: 255, the label ignored by loss and metrics (padding, unlabelled pixels).
        mean, std: normalisation on the 0-255 scale, to un-normalise images for display.
    """

    dataset_name = "segmentation"
    recipe = "ade20k"  # the row of edaformer.data.benchmarks.BENCHMARKS that gives the defaults
    layout = ""
    img_suffix = ".jpg"
    mask_suffix = ".png"
    prepare_hint: str | None = None
    ignore_index = IGNORE_INDEX
    mean = IMAGENET_MEAN
    std = IMAGENET_STD

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        class_names: Sequence[str],
        palette: Sequence[Sequence[int]],
        label_map: LabelMap,
        crop_size: Sequence[int] | None = None,
        test_scale: Sequence[int] | None = None,
        batch_size: int | None = None,
        ratio_range: Sequence[float] | None = None,
        cat_max_ratio: float = 0.75,
        flip_prob: float = 0.5,
        photometric: bool = True,
        train_pipeline: Sequence[A.BasicTransform] | None = None,
        val_pipeline: Sequence[A.BasicTransform] | None = None,
        val_batch_size: int = 1,
        num_workers: int = 4,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str | None = None,
        tta: bool = False,
    ):
        super().__init__()
        if len(palette) != len(class_names):
            raise ValueError(f"palette has {len(palette)} colours for {len(class_names)} classes")
        self.root = Path(os.path.expanduser(os.fspath(root)))
        self.class_names = [str(n) for n in class_names]
        self.palette = [tuple(int(c) for c in color) for color in palette]
        self.num_classes = len(self.class_names)
        self.label_map = label_map
        for name, ops in (("train_pipeline", train_pipeline), ("val_pipeline", val_pipeline)):
            if isinstance(ops, Mapping | str):
                raise TypeError(
                    f"{name} must be a list of albumentations ops, which replaces the authors' pipeline, got "
                    f"{ops!r}; to change one part of the authors' pipeline set ratio_range, cat_max_ratio, "
                    "flip_prob or photometric (e.g. +data.flip_prob=0)"
                )
        row = benchmark(self.recipe)
        self.crop_size = tuple(int(s) for s in crop_size or row.train_crop)
        self.test_scale = tuple(int(s) for s in test_scale or row.test_scale)
        self.batch_size = int(batch_size or row.batch_per_gpu["t"])
        if train_pipeline is None:
            train_pipeline = authors_train_pipeline(
                self.crop_size,
                self.test_scale,
                ratio_range=ratio_range or row.ratio_range,
                cat_max_ratio=cat_max_ratio,
                flip_prob=flip_prob,
                photometric=photometric,
            )
        self.train_pipeline = list(train_pipeline)
        self.val_pipeline = list(
            authors_val_pipeline(self.test_scale) if val_pipeline is None else val_pipeline
        )
        self.val_batch_size = int(val_batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.splits = {"train": train_split, "val": val_split, "test": test_split or val_split}
        self.tta = bool(tta)
        self._datasets: dict[str, SegmentationDataset] = {}

    # ----------------------------------------------------------------- layout (overridden by subclasses)
    def resolve_root(self) -> Path:
        """The directory the split folders live in; raises if the root is missing."""
        return require_dir(self.root, f"{self.dataset_name} root", self.layout)

    def split_dirs(self, split: str) -> tuple[Path, Path]:
        """``(image_dir, mask_dir)`` of a split."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------------------- scanning
    def scan_split(self, split: str) -> tuple[list[tuple[Path, Path]], list[str]]:
        """Pair a split's files; returns ``(pairs, problems)`` without raising on pairing problems.

        Raises:
            DatasetError: the root or a split folder is missing (nothing can be scanned).
        """
        img_dir, mask_dir = self.split_dirs(split)
        expected = f"the {self.dataset_name} layout: {self.layout}"
        require_dir(img_dir, f"{self.dataset_name} image folder for split {split!r}", expected)
        require_dir(mask_dir, f"{self.dataset_name} label folder for split {split!r}", expected)
        pairs, problems = pair_files(img_dir, mask_dir, self.img_suffix, self.mask_suffix)
        if not pairs and problems and self.prepare_hint and any("has no mask" in p for p in problems):
            raise DatasetError(
                f"{mask_dir}: no *{self.mask_suffix} label files for split {split!r}; "
                f"create them with: {self.prepare_hint.format(root=self.root)}"
            )
        return pairs, problems

    def build_dataset(self, role: str) -> SegmentationDataset:
        """Dataset for ``role`` in ``{"train", "val", "test"}``; raises listing every pairing problem."""
        split = self.splits[role]
        pairs, problems = self.scan_split(split)
        if problems:
            message = format_problems(
                f"{self.dataset_name} split {split!r} under {self.root}: {len(problems)} problem(s)", problems
            )
            if self.prepare_hint and any("has no mask" in p for p in problems):
                message += (
                    f"\nIf label files were never generated, run: {self.prepare_hint.format(root=self.root)}"
                )
            raise DatasetError(message)
        train = role == "train"
        pipeline = self.train_pipeline if train else self.eval_pipeline()
        return SegmentationDataset(pairs, self.label_map, pipeline, train=train, original_image=self.tta)

    def eval_pipeline(self) -> list[A.BasicTransform]:
        """The validation/test ops: ``val_pipeline``, without its :class:`AlignedResize` and ``Normalize`` when
        ``tta`` (the inference normalises each resized image with the ImageNet mean/std, so a ``Normalize`` with
        other values is refused)."""
        if not self.tta:
            return self.val_pipeline
        for i, op in enumerate(self.val_pipeline):
            if isinstance(op, A.Normalize) and not _imagenet_normalize(op):
                raise DatasetError(
                    f"val_pipeline[{i}]: Normalize(mean={op.mean}, std={op.std}, max_pixel_value="
                    f"{op.max_pixel_value}) with tta=true; multi-scale testing normalises with the ImageNet "
                    f"mean {list(IMAGENET_MEAN)} and std {list(IMAGENET_STD)} on the 0-255 scale"
                )
        return [op for op in self.val_pipeline if not isinstance(op, (AlignedResize, A.Normalize))]

    # --------------------------------------------------------------------------------------- lightning
    def setup(self, stage: str | None = None) -> None:
        roles = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for role in roles.get(stage or "", ("train", "val", "test")):
            self.dataset(role)

    def dataset(self, role: str) -> SegmentationDataset:
        """The (lazily built) dataset for ``role`` in ``{"train", "val", "test"}``."""
        if role not in self.splits:
            raise KeyError(f"unknown role {role!r}; expected one of {sorted(self.splits)}")
        if role not in self._datasets:
            self._datasets[role] = self.build_dataset(role)
        return self._datasets[role]

    def _loader(self, dataset: Dataset, batch_size: int, train: bool) -> DataLoader:
        """Training: whole batches in a new random order per epoch, resumable from any batch
        (:class:`~edaformer.data.resumable.ResumableDataLoader`); evaluation: every image, in order."""
        return (ResumableDataLoader if train else DataLoader)(
            dataset,
            batch_size=batch_size,
            sampler=ResumableSampler(dataset) if train else None,
            drop_last=train,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            collate_fn=collate,
            worker_init_fn=leave_signals_to_main,  # the main process stops them after a safe point
        )

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        if len(dataset) < self.batch_size:
            raise DatasetError(
                f"{self.dataset_name} split {self.splits['train']!r} has {len(dataset)} image(s), fewer than "
                f"batch_size={self.batch_size}; expected at least one full batch"
            )
        return self._loader(dataset, self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val"), self.val_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"), self.val_batch_size, train=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    # ------------------------------------------------------------------------------------------- info
    def eval_input_size(self, height: int, width: int) -> tuple[int, int]:
        """Network input ``(h, w)`` at test time for an original image of ``height × width``.

        Uses the val pipeline's :class:`AlignedResize` if it has one, else ``test_scale`` with divisor 32.
        E.g. ADE20K 512×683 → 512×704; Cityscapes 1024×2048 → 1024×2048.
        """
        resize = next((op for op in self.val_pipeline if isinstance(op, AlignedResize)), None)
        return (resize or AlignedResize(self.test_scale)).output_size(height, width)
