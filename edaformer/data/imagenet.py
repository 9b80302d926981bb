"""ImageNet-1k classification in the usual class-folder layout, for pre-training the EFT encoders.

Layout: ``<root>/train/<wnid>/*.JPEG`` and ``<root>/val/<wnid>/*.JPEG`` (the validation images moved into
class folders, as every PyTorch ImageNet recipe expects). Class index = position of the wnid in the sorted
list of ``train/`` folders. Batches: ``{"image": float32 [B, 3, 224, 224], "label": int64 [B], "path": list[str]}``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from edaformer.data.imagenet_augment import RandAugment, RandomErasing
from edaformer.data.io import DatasetError, format_problems, read_image, require_dir
from edaformer.data.sampler import RepeatAugSampler
from edaformer.data.segmentation import SeededTransform, collate, to_chw_tensor
from edaformer.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_pipeline, imagenet_normalize

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFolderDataset",
    "ImageNetDataModule",
    "deit_train_pipeline",
    "deit_val_pipeline",
    "scan_class_folders",
]

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".webp")
LAYOUT = "<root>/{train,val}/<wnid>/*.JPEG (class folders named by WordNet id, e.g. n01440764)"


def deit_train_pipeline() -> list[A.BasicTransform]:
    """The DeiT/PVTv2 training pipeline the authors pre-train EFT with (timm's ``create_transform``, DeiT's args).

    Random-resized crop to 224 (scale 0.08-1, ratio 3/4-4/3, bicubic) → horizontal flip → RandAugment
    ``rand-m9-mstd0.5-inc1`` → ImageNet normalisation → random erasing (p 0.25, per-pixel noise).
    """
    return [
        A.RandomResizedCrop(
            size=(224, 224), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation=cv2.INTER_CUBIC
        ),
        A.HorizontalFlip(p=0.5),
        RandAugment(num_ops=2, magnitude=9, magnitude_std=0.5, op_prob=0.5),
        imagenet_normalize(),
        RandomErasing(p=0.25),
    ]


def deit_val_pipeline() -> list[A.BasicTransform]:
    """DeiT's evaluation: shorter side to 256 (bicubic), centre crop 224, ImageNet normalisation."""
    return [
        A.SmallestMaxSize(max_size=256, interpolation=cv2.INTER_CUBIC),
        A.CenterCrop(height=224, width=224),
        imagenet_normalize(),
    ]


def scan_class_folders(
    split_dir: Path, classes: Sequence[str] | None = None
) -> tuple[list[str], list[tuple[Path, int]], list[str]]:
    """List ``split_dir/<class>/<image>`` files.

    Args:
        split_dir: a split folder holding one sub-folder per class.
        classes: the class list to index by (the train classes); ``None`` uses this split's sorted folders.

    Returns:
        ``(classes, samples, problems)``: samples are ``(path, class_index)`` sorted by path; problems name
        empty class folders, class folders unknown to ``classes``, and stray files in ``split_dir``.
    """
    problems: list[str] = []
    folders = sorted(e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith("."))
    for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
        if entry.is_file() and not entry.name.startswith("."):
            problems.append(f"{entry.path}: file outside a class folder; expected {LAYOUT}")
    if classes is None:
        classes = folders
    index = {name: i for i, name in enumerate(classes)}
    samples: list[tuple[Path, int]] = []
    for name in folders:
        if name not in index:
            problems.append(f"{split_dir / name}: class folder not among the {len(classes)} training classes")
            continue
        files = sorted(
            e.name
            for e in os.scandir(split_dir / name)
            if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS) and not e.name.startswith(".")
        )
        if not files:
            problems.append(f"{split_dir / name}: class folder holds no images (*.JPEG)")
        samples.extend((split_dir / name / f, index[name]) for f in files)
    if not folders:
        problems.append(f"{split_dir}: no class folders; expected {LAYOUT}")
    return list(classes), samples, problems


class ImageFolderDataset(Dataset):
    """``(path, label)`` samples → ``{"image": float32 [3, h, w], "label": int64 []}``."""

    def __init__(
        self, samples: Sequence[tuple[Path, int]], pipeline: Sequence[A.BasicTransform] | None, salt: int
    ):
        self.samples = list(samples)
        self.transform = SeededTransform(build_pipeline(pipeline), salt=salt)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, label = self.samples[index]
        image = self.transform(image=read_image(path))["image"]
        return {
            "image": to_chw_tensor(image),
            "label": torch.tensor(label, dtype=torch.int64),
            "path": str(path),
        }


class ImageNetDataModule(L.LightningDataModule):
    """ImageNet-1k (or any class-folder dataset) with the DeiT/PVTv2 pipelines.

    Args:
        root: folder with ``train/`` and ``val/``.
        train_pipeline / val_pipeline: albumentations ops; default :func:`deit_train_pipeline` /
            :func:`deit_val_pipeline`.
        batch_size / val_batch_size: per-device batch sizes.
        repeated_augmentation: copies of each training image per epoch, spread over the processes
            (:class:`~edaformer.data.sampler.RepeatAugSampler`; DeiT: 3; 1 = plain shuffling).
        seed: shuffling seed of the training sampler (the same on every process; the run's ``seed``).
        num_workers / pin_memory / persistent_workers: DataLoader settings.
        expected_num_classes: raise unless ``train/`` holds exactly this many class folders (1000); ``None``
            accepts any number (subsets, other class-folder datasets).
        train_split / val_split: split folder names.

    Attributes:
        class_names: wnids in sorted order (index = label); ``num_classes``: their count.
    """

    mean = IMAGENET_MEAN
    std = IMAGENET_STD

    def __init__(
        self,
        root: str | os.PathLike,
        train_pipeline: Sequence[A.BasicTransform] | None = None,
        val_pipeline: Sequence[A.BasicTransform] | None = None,
        batch_size: int = 128,
        val_batch_size: int | None = None,
        num_workers: int = 8,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        expected_num_classes: int | None = 1000,
        train_split: str = "train",
        val_split: str = "val",
        repeated_augmentation: int = 3,
        seed: int = 0,
    ):
        super().__init__()
        self.root = Path(os.path.expanduser(os.fspath(root)))
        self.train_pipeline = list(deit_train_pipeline() if train_pipeline is None else train_pipeline)
        self.val_pipeline = list(deit_val_pipeline() if val_pipeline is None else val_pipeline)
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.expected_num_classes = expected_num_classes
        self.splits = {"train": train_split, "val": val_split, "test": val_split}
        self.repeated_augmentation = int(repeated_augmentation)
        self.seed = int(seed)
        self._classes: list[str] | None = None
        self._datasets: dict[str, ImageFolderDataset] = {}

    def split_dir(self, role: str) -> Path:
        require_dir(self.root, "ImageNet root", LAYOUT)
        return require_dir(self.root / self.splits[role], f"ImageNet {role} folder", LAYOUT)

    @property
    def class_names(self) -> list[str]:
        """Sorted wnids of ``train/`` (scanned once; validated against ``expected_num_classes``)."""
        if self._classes is None:
            train_dir = self.split_dir("train")
            classes = sorted(
                e.name for e in os.scandir(train_dir) if e.is_dir() and not e.name.startswith(".")
            )
            if self.expected_num_classes is not None and len(classes) != self.expected_num_classes:
                raise DatasetError(
                    f"{train_dir}: found {len(classes)} class folders, expected {self.expected_num_classes}; "
                    "set data.expected_num_classes=null to train on a subset"
                )
            self._classes = classes
        return self._classes

    @property
    def num_classes(self) -> int:
        if self.expected_num_classes is not None and self._classes is None:
            return self.expected_num_classes  # known without touching the disk
        return len(self.class_names)

    def scan(self, role: str) -> tuple[list[tuple[Path, int]], list[str]]:
        """``(samples, problems)`` of a split, indexed by the training classes."""
        _, samples, problems = scan_class_folders(self.split_dir(role), self.class_names)
        return samples, problems

    def dataset(self, role: str) -> ImageFolderDataset:
        if role not in self._datasets:
            samples, problems = self.scan(role)
            if problems:
                header = f"ImageNet split {self.splits[role]!r} under {self.root}: {len(problems)} problem(s)"
                raise DatasetError(format_problems(header, problems))
            pipeline = self.train_pipeline if role == "train" else self.val_pipeline
            self._datasets[role] = ImageFolderDataset(samples, pipeline, salt=0 if role == "train" else 1)
        return self._datasets[role]

    def setup(self, stage: str | None = None) -> None:
        roles = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for role in roles.get(stage or "", ("train", "val")):
            self.dataset(role)

    def train_sampler(self) -> RepeatAugSampler:
        """The repeated-augmentation sampler over this process's share of ``train``.

        Processes and rank come from the attached Lightning trainer (one process without one). It is a
        ``DistributedSampler``, so Lightning keeps it under DDP instead of substituting its own, and calls its
        ``set_epoch`` every epoch.
        """
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        return RepeatAugSampler(
            self.dataset("train"), replicas, rank, repeats=self.repeated_augmentation, seed=self.seed
        )

    def _loader(self, role: str, batch_size: int, train: bool) -> DataLoader:
        return DataLoader(
            self.dataset(role),
            batch_size=batch_size,
            sampler=self.train_sampler() if train else None,
            drop_last=train,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.val_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.val_batch_size, train=False)
