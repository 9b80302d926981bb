"""Lightning glue: training/evaluation modules and callbacks around the plain-PyTorch models."""

from .callbacks import AtomicCheckpointIO, LogSegmentationSamples, RestoreRNGState, ValidateAtEnd
from .cityscapes import WriteCityscapesLabelIds
from .classification import ClassificationModule
from .global_batch import (
    GlobalBatch,
    GlobalBatchError,
    WholeGlobalBatches,
    count_devices,
    plan_global_batch,
    trainer_arguments,
)
from .mixup import MixupCutmix
from .nonfinite import NonFiniteError, NonFiniteGuard
from .segmentation import SegmentationModule
from .summary import ModelSummaryWithGFLOPs

__all__ = [
    "AtomicCheckpointIO",
    "ClassificationModule",
    "GlobalBatch",
    "GlobalBatchError",
    "LogSegmentationSamples",
    "MixupCutmix",
    "ModelSummaryWithGFLOPs",
    "NonFiniteError",
    "NonFiniteGuard",
    "RestoreRNGState",
    "SegmentationModule",
    "ValidateAtEnd",
    "WholeGlobalBatches",
    "WriteCityscapesLabelIds",
    "count_devices",
    "plan_global_batch",
    "trainer_arguments",
]
