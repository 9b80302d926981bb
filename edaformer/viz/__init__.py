"""Seeing results: label colouring and overlays, EFA attention maps through forward hooks, PCA maps of
features, and the ISR trade-off plot. Matplotlib figures are built without pyplot state.

Depends on :mod:`edaformer.models`, :mod:`edaformer.data` (benchmark facts) and :mod:`edaformer.evaluation` only
(image loading, label colouring and
overlays, and the ``Segmenter`` that applies a model to a user's image live in :mod:`edaformer.evaluation`; this
package re-exports ``colorize``, ``overlay`` and ``palette_array`` beside its figures)."""

from ..evaluation.colors import colorize, overlay, palette_array
from .attention import (
    AttentionMap,
    AttentionRecorder,
    AttentionRun,
    EFALayer,
    capture_output,
    efa_layers,
    query_token,
    run_with_attention,
)
from .confusion import confusion_figure, row_normalised, write_confusion_csv
from .figures import attention_figure, draw_attention, prediction_figure
from .masks import add_legend, contact_sheet, legend_entries, present_classes, sample_panel
from .pca import PCABasis, fit_pca, pca_image
from .tradeoff import tradeoff_figure

__all__ = [
    "AttentionMap",
    "AttentionRecorder",
    "AttentionRun",
    "EFALayer",
    "PCABasis",
    "add_legend",
    "attention_figure",
    "capture_output",
    "colorize",
    "confusion_figure",
    "contact_sheet",
    "draw_attention",
    "efa_layers",
    "fit_pca",
    "legend_entries",
    "overlay",
    "palette_array",
    "pca_image",
    "prediction_figure",
    "present_classes",
    "query_token",
    "row_normalised",
    "run_with_attention",
    "sample_panel",
    "tradeoff_figure",
    "write_confusion_csv",
]
