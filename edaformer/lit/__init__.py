"""Lightning glue: training/evaluation modules and callbacks around the plain-PyTorch models."""

from .callbacks import AtomicCheckpointIO, LogSegmentationSamples, RestoreRNGState
from .classification import ClassificationModule
from .mixup import MixupCutmix
from .segmentation import SegmentationModule, load_pretrained_encoder

__all__ = [
    "AtomicCheckpointIO",
    "ClassificationModule",
    "LogSegmentationSamples",
    "MixupCutmix",
    "RestoreRNGState",
    "SegmentationModule",
    "load_pretrained_encoder",
]
