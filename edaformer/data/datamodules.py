"""DataModules for the official on-disk layouts of ADE20K, Cityscapes and COCO-Stuff-164k, and for custom folders.

Each reads exactly what the official download (plus, for Cityscapes/COCO-Stuff, the one preparation script)
leaves on disk; the constructor arguments not listed here are those of :class:`SegmentationDataModule`
(sizes, augmentation, pipelines, batch sizes, workers, split names), whose defaults are the authors' recipe for
the dataset (its row of :data:`~edaformer.data.benchmarks.BENCHMARKS`): ``ADE20KDataModule(root)`` trains as is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edaformer.data.classes import default_palette, load_classes
from edaformer.data.io import IGNORE_INDEX, DatasetError, LabelMap
from edaformer.data.segmentation import SegmentationDataModule

__all__ = ["ADE20KDataModule", "COCOStuffDataModule", "CityscapesDataModule", "CustomSegDataModule"]


class ADE20KDataModule(SegmentationDataModule):
    """ADE20K SceneParsing (ADEChallengeData2016): 150 classes, reduce-zero-label.

    Layout (``root`` may be the folder holding ``ADEChallengeData2016`` or that folder itself)::

        ADEChallengeData2016/images/{training,validation}/ADE_train_00000001.jpg
        ADEChallengeData2016/annotations/{training,validation}/ADE_train_00000001.png

    Raw label 0 ("other") becomes 255 (ignored) and 1..150 become train ids 0..149.
    """

    dataset_name = "ADE20K"
    folder = "ADEChallengeData2016"
    layout = (
        "<root>/ADEChallengeData2016/images/{training,validation}/*.jpg and "
        "<root>/ADEChallengeData2016/annotations/{training,validation}/*.png (the official ADEChallengeData2016.zip)"
    )

    def __init__(
        self,
        root: str | os.PathLike,
        train_split: str = "training",
        val_split: str = "validation",
        test_split: str | None = "validation",
        **kwargs: Any,
    ):
        info = load_classes("ade20k")
        kwargs.setdefault("class_names", info.names)
        kwargs.setdefault("palette", info.palette)
        kwargs.setdefault("label_map", LabelMap.reduce_zero_label(len(kwargs["class_names"])))
        super().__init__(root, train_split=train_split, val_split=val_split, test_split=test_split, **kwargs)

    def resolve_root(self) -> Path:
        root = super().resolve_root()
        if (root / self.folder).is_dir():
            return root / self.folder
        if (root / "images").is_dir() or (root / "annotations").is_dir():
            return root
        raise DatasetError(f"{root}: found neither {self.folder}/ nor images/ in it; expected {self.layout}")

    def split_dirs(self, split: str) -> tuple[Path, Path]:
        base = self.resolve_root()
        return base / "images" / split, base / "annotations" / split


class CityscapesDataModule(SegmentationDataModule):
    """Cityscapes fine annotations: 19 train ids, 255 ignored.

    Layout::

        <root>/leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        <root>/gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png

    The ``labelTrainIds`` files are not in the download; ``edaformer-prepare-cityscapes data.root=ROOT``
    creates them from the ``*_gtFine_polygons.json`` files with cityscapesscripts. The public test split has
    no labels, so ``test_split`` defaults to ``val``.
    """

    dataset_name = "Cityscapes"
    recipe = "cityscapes"
    layout = (
        "<root>/leftImg8bit/<split>/<city>/*_leftImg8bit.png and "
        "<root>/gtFine/<split>/<city>/*_gtFine_labelTrainIds.png"
    )
    img_suffix = "_leftImg8bit.png"
    mask_suffix = "_gtFine_labelTrainIds.png"
    prepare_hint = "edaformer-prepare-cityscapes data.root={root}"

    def __init__(
        self,
        root: str | os.PathLike,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str | None = "val",
        **kwargs: Any,
    ):
        info = load_classes("cityscapes")
        kwargs.setdefault("class_names", info.names)
        kwargs.setdefault("palette", info.palette)
        kwargs.setdefault("label_map", LabelMap.identity(len(kwargs["class_names"])))
        super().__init__(root, train_split=train_split, val_split=val_split, test_split=test_split, **kwargs)

    def split_dirs(self, split: str) -> tuple[Path, Path]:
        root = self.resolve_root()
        return root / "leftImg8bit" / split, root / "gtFine" / split


class COCOStuffDataModule(SegmentationDataModule):
    """COCO-Stuff-164k: 171 classes (train ids), 255 ignored.

    Layout (``stuffthingmaps_trainval2017.zip`` unpacked into ``annotations/``)::

        <root>/images/{train2017,val2017}/000000000139.jpg
        <root>/annotations/{train2017,val2017}/000000000139_labelTrainIds.png

    ``edaformer-prepare-coco-stuff data.root=ROOT`` writes the ``_labelTrainIds.png`` files next to the raw
    ``000000000139.png`` maps (raw ids 0-181 → 0-170, the 11 unused COCO ids → 255).
    """

    dataset_name = "COCO-Stuff-164k"
    recipe = "coco_stuff"
    layout = "<root>/images/{train2017,val2017}/*.jpg and <root>/annotations/{train2017,val2017}/*_labelTrainIds.png"
    mask_suffix = "_labelTrainIds.png"
    prepare_hint = "edaformer-prepare-coco-stuff data.root={root}"

    def __init__(
        self,
        root: str | os.PathLike,
        train_split: str = "train2017",
        val_split: str = "val2017",
        test_split: str | None = "val2017",
        **kwargs: Any,
    ):
        info = load_classes("coco_stuff")
        kwargs.setdefault("class_names", info.names)
        kwargs.setdefault("palette", info.palette)
        kwargs.setdefault("label_map", LabelMap.identity(len(kwargs["class_names"])))
        super().__init__(root, train_split=train_split, val_split=val_split, test_split=test_split, **kwargs)

    def split_dirs(self, split: str) -> tuple[Path, Path]:
        root = self.resolve_root()
        return root / "images" / split, root / "annotations" / split


class CustomSegDataModule(SegmentationDataModule):
    """Any image-folder / mask-folder pair, matched by relative path and suffix.

    Sizes, batch and augmentation default to the ADE20K recipe; set ``test_scale`` (and ``crop_size``) near your
    images' size (``edaformer-check-dataset`` suggests both). Example: ``img_dir="images/{split}"``, ``mask_dir="labels/{split}"``, ``img_suffix=".jpg"``,
    ``mask_suffix=".png"`` pairs ``images/train/a/b.jpg`` with ``labels/train/a/b.png``.

    Args:
        root: dataset root; ``img_dir``/``mask_dir`` are relative to it.
        class_names: one name per class; masks hold ids ``0..len-1`` (``1..len`` with reduce_zero_label).
        img_dir / mask_dir: folder templates, ``{split}`` replaced by the split name.
        img_suffix / mask_suffix: file-name endings that identify images and masks.
        palette: one RGB colour per class; a distinct default palette if omitted.
        reduce_zero_label: raw 0 means "unlabelled" (→ ignore) and raw ``k`` is class ``k-1``.
        ignore_index: raw value in the masks that marks unlabelled pixels; batches always use 255.
        train_split / val_split / test_split: split names (test defaults to val).
        **kwargs: the :class:`SegmentationDataModule` arguments (pipelines, sizes, loader settings).
    """

    dataset_name = "custom"

    def __init__(
        self,
        root: str | os.PathLike,
        class_names: Sequence[str],
        img_dir: str = "images/{split}",
        mask_dir: str = "annotations/{split}",
        img_suffix: str = ".jpg",
        mask_suffix: str = ".png",
        palette: Sequence[Sequence[int]] | None = None,
        reduce_zero_label: bool = False,
        ignore_index: int = IGNORE_INDEX,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str | None = None,
        **kwargs: Any,
    ):
        if not class_names:
            raise ValueError("class_names must list at least one class")
        make = LabelMap.reduce_zero_label if reduce_zero_label else LabelMap.identity
        super().__init__(
            root,
            class_names=class_names,
            palette=palette if palette is not None else default_palette(len(class_names)),
            label_map=make(len(class_names), ignore_index),
            train_split=train_split,
            val_split=val_split,
            test_split=test_split,
            **kwargs,
        )
        self.img_dir, self.mask_dir = img_dir, mask_dir
        self.img_suffix, self.mask_suffix = img_suffix, mask_suffix
        self.raw_ignore_index = ignore_index
        self.layout = f"<root>/{img_dir}/**/*{img_suffix} paired with <root>/{mask_dir}/**/*{mask_suffix}"

    def split_dirs(self, split: str) -> tuple[Path, Path]:
        root = self.resolve_root()
        return root / self.img_dir.format(split=split), root / self.mask_dir.format(split=split)
