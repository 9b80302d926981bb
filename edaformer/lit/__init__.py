"""Lightning glue: training/evaluation modules and callbacks around the plain-PyTorch models."""

from .callbacks import AtomicCheckpointIO, LogSegmentationSamples, RestoreRNGState, ValidateAtEnd
from .classification import ClassificationModule
from .mixup import MixupCutmix
from .nonfinite import NonFiniteError, NonFiniteGuard
from .segmentation import SegmentationModule

__all__ = [
    "AtomicCheckpointIO",
    "ClassificationModule",
    "LogSegmentationSamples",
    "MixupCutmix",
    "NonFiniteError",
    "NonFiniteGuard",
    "RestoreRNGState",
    "SegmentationModule",
    "ValidateAtEnd",
]
