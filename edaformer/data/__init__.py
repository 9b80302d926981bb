"""Datasets, augmentation pipelines and Lightning DataModules.

Hydra builds the DataModules from ``conf/data/<name>.yaml`` (``ade20k``, ``cityscapes``, ``coco_stuff``,
``custom``, ``demo``, ``imagenet``). Segmentation modules expose ``num_classes``, ``class_names``,
``palette``, ``ignore_index`` (255), ``crop_size`` and ``test_scale``; see
:mod:`edaformer.data.segmentation` for the batch formats.
"""

from edaformer.data.classes import ClassInfo, coco_stuff_lut, default_palette, load_classes
from edaformer.data.datamodules import (
    ADE20KDataModule,
    CityscapesDataModule,
    COCOStuffDataModule,
    CustomSegDataModule,
)
from edaformer.data.demo import DEMO_CLASSES, DemoDataModule, ensure_demo_dataset
from edaformer.data.imagenet import ImageNetDataModule
from edaformer.data.io import IGNORE_INDEX, DatasetError, LabelMap
from edaformer.data.segmentation import SegmentationDataModule, SegmentationDataset
from edaformer.data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "ADE20KDataModule",
    "COCOStuffDataModule",
    "CityscapesDataModule",
    "ClassInfo",
    "CustomSegDataModule",
    "DEMO_CLASSES",
    "DatasetError",
    "DemoDataModule",
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageNetDataModule",
    "LabelMap",
    "SegmentationDataModule",
    "SegmentationDataset",
    "coco_stuff_lut",
    "default_palette",
    "ensure_demo_dataset",
    "load_classes",
]
