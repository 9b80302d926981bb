"""Lightning glue: training/evaluation modules and callbacks around the plain-PyTorch models."""

from .callbacks import AtomicCheckpointIO, LogSegmentationSamples, RestoreRNGState, ValidateAtEnd
from .checkpointing import BestCheckpoint, ContinueCSVMetrics, TimedCheckpoint
from .cityscapes import WriteCityscapesLabelIds
from .classification import ClassificationModule
from .global_batch import (
    GlobalBatch,
    GlobalBatchError,
    WholeGlobalBatches,
    accelerator_kind,
    count_devices,
    plan_global_batch,
    trainer_arguments,
)
from .mixup import MixupCutmix
from .nonfinite import NonFiniteError, NonFiniteGuard
from .segmentation import SegmentationModule
from .signals import Interrupted, StopOnSignal
from .summary import ModelSummaryWithGFLOPs
from .sync_batchnorm import BatchNormSync, plan_sync_batchnorm

__all__ = [
    "AtomicCheckpointIO",
    "BatchNormSync",
    "BestCheckpoint",
    "ClassificationModule",
    "ContinueCSVMetrics",
    "GlobalBatch",
    "GlobalBatchError",
    "Interrupted",
    "LogSegmentationSamples",
    "MixupCutmix",
    "ModelSummaryWithGFLOPs",
    "NonFiniteError",
    "NonFiniteGuard",
    "RestoreRNGState",
    "SegmentationModule",
    "StopOnSignal",
    "TimedCheckpoint",
    "ValidateAtEnd",
    "WholeGlobalBatches",
    "WriteCityscapesLabelIds",
    "accelerator_kind",
    "count_devices",
    "plan_global_batch",
    "plan_sync_batchnorm",
    "trainer_arguments",
]
