"""Seeing results: label colouring and overlays, prediction on user images, EFA attention maps through forward
hooks, PCA maps of features, and the ISR trade-off plot. Matplotlib figures are built without pyplot state."""

from .attention import (
    AttentionMap,
    AttentionRecorder,
    AttentionRun,
    EFALayer,
    capture_output,
    efa_layers,
    isr_applied,
    query_token,
    run_with_attention,
)
from .figures import attention_figure, draw_attention, prediction_figure
from .images import ImageInputError, denormalize, find_images, load_image, normalize, to_rgb
from .masks import add_legend, colorize, legend_entries, overlay, palette_array, present_classes
from .pca import PCABasis, fit_pca, pca_image
from .predictor import ClassMeta, Segmenter, pick_device, resolve_classes
from .tradeoff import load_result_rows, measure_latency, tradeoff_figure

__all__ = [
    "AttentionMap",
    "AttentionRecorder",
    "AttentionRun",
    "ClassMeta",
    "EFALayer",
    "ImageInputError",
    "PCABasis",
    "Segmenter",
    "add_legend",
    "attention_figure",
    "capture_output",
    "colorize",
    "denormalize",
    "draw_attention",
    "efa_layers",
    "find_images",
    "fit_pca",
    "isr_applied",
    "legend_entries",
    "load_result_rows",
    "load_image",
    "measure_latency",
    "normalize",
    "overlay",
    "palette_array",
    "pca_image",
    "pick_device",
    "prediction_figure",
    "present_classes",
    "query_token",
    "resolve_classes",
    "run_with_attention",
    "to_rgb",
    "tradeoff_figure",
]
