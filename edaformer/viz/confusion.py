"""The confusion matrix of an evaluation: row-normalised heat map with class names, and its CSV table.

Rows are the labels and columns the predictions (pixel counts, as :class:`~edaformer.evaluation.metrics.
SegmentationMetrics` accumulates them); a row normalised to 1 reads as "where the pixels of this class went", its
diagonal entry being the class's accuracy.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure


def row_normalised(confusion: np.ndarray) -> np.ndarray:
    """``confusion[K, K]`` with each row divided by its sum (rows of classes absent from the labels stay 0)."""
    counts = np.asarray(confusion, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], title: str = "") -> Figure:
    """Heat map of the row-normalised matrix, labels down, predictions across, class names on both axes.

    The figure grows with the number of classes (about 0.14 inch per class, 6 inches at least); cells carry their
    percentage when there are at most 25 classes.
    """
    matrix = row_normalised(confusion)
    k = matrix.shape[0]
    if len(class_names) != k:
        raise ValueError(f"{len(class_names)} class names for a {k}-class confusion matrix")
    side = max(6.0, 0.14 * k + 2.5)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the label's pixels")
    fontsize = 9 if k <= 25 else max(3.0, 9 - k / 25)
    ax.set_xticks(range(k), [str(n) for n in class_names], rotation=90, fontsize=fontsize)
    ax.set_yticks(range(k), [str(n) for n in class_names], fontsize=fontsize)
    ax.set_xlabel("prediction")
    ax.set_ylabel("label")
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if matrix[i, j] >= 0.005:
                    color = "white" if matrix[i, j] > 0.5 else "black"
                    ax.text(
                        j, i, f"{100 * matrix[i, j]:.0f}", ha="center", va="center", fontsize=7, color=color
                    )
    ax.set_title(title or "confusion matrix (rows normalised)")
    return fig


def write_confusion_csv(path: str | os.PathLike, confusion: np.ndarray, class_names: Sequence[str]) -> None:
    """Pixel counts with a header row of predicted class names and the label's name first on each row."""
    counts = np.asarray(confusion, dtype=np.int64)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label \\ prediction", *class_names])
        for name, row in zip(class_names, counts):
            writer.writerow([name, *row.tolist()])
