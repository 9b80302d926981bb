"""Lightning glue: training/evaluation modules and callbacks around the plain-PyTorch models."""

from .callbacks import AtomicCheckpointIO, LogSegmentationSamples, RestoreRNGState
from .classification import ClassificationModule
from .mixup import MixupCutmix
from .segmentation import SegmentationModule

__all__ = [
    "AtomicCheckpointIO",
    "ClassificationModule",
    "LogSegmentationSamples",
    "MixupCutmix",
    "RestoreRNGState",
    "SegmentationModule",
]
