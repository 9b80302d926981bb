"""Applying a trained segmentor: inference modes (whole, sliding window, multi-scale + flip), metrics from a
confusion matrix, user images in and out, label maps in colour (``colorize``, ``overlay``), and :class:`Segmenter`
(a model plus its test recipe and classes).

Plain PyTorch and NumPy; depends on :mod:`edaformer.models`, :mod:`edaformer.checkpoints` and the test-time
geometry and class metadata of :mod:`edaformer.data`. No Lightning, no Hydra.
"""

from .colors import colorize, overlay, palette_array
from .images import ImageInputError, denormalize, find_images, load_image, normalize, to_rgb
from .inference import (
    InferenceConfig,
    multi_scale_flip_inference,
    multi_scale_flip_scores,
    segment,
    segment_labels,
    segment_scores,
    slide_inference,
    slide_scores,
    whole_inference,
    whole_scores,
)
from .metrics import SegmentationMetrics, metrics_from_confusion
from .segmenter import ClassMeta, Segmenter, resolve_classes

__all__ = [
    "ClassMeta",
    "ImageInputError",
    "InferenceConfig",
    "SegmentationMetrics",
    "Segmenter",
    "colorize",
    "denormalize",
    "find_images",
    "load_image",
    "metrics_from_confusion",
    "multi_scale_flip_inference",
    "multi_scale_flip_scores",
    "normalize",
    "overlay",
    "palette_array",
    "resolve_classes",
    "segment",
    "segment_labels",
    "segment_scores",
    "slide_inference",
    "slide_scores",
    "to_rgb",
    "whole_inference",
    "whole_scores",
]
