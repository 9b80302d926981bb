"""Confusion-matrix figure and CSV; the browse_dataset panels (sample with mask and legend, contact sheet)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from edaformer.evaluation.metrics import metrics_from_confusion
from edaformer.viz import confusion_figure, contact_sheet, row_normalised, sample_panel, write_confusion_csv

NAMES = ["road", "car", "sky"]
COUNTS = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])  # sky never in the labels


def test_row_normalised_reads_where_each_label_went():
    matrix = row_normalised(COUNTS)
    assert matrix[0].tolist() == [0.8, 0.2, 0.0] and matrix[1].tolist() == [0.25, 0.75, 0.0]
    assert matrix[2].tolist() == [0.0, 0.0, 0.0]  # an absent class stays empty, no division by zero
    # the diagonal is the per-class accuracy the metrics report
    metrics = metrics_from_confusion(torch.tensor(COUNTS), NAMES)
    assert np.allclose(np.diag(matrix)[:2], metrics.acc[:2])
    assert metrics.confusion.tolist() == COUNTS.tolist()


def test_figure_has_class_names_and_percentages(tmp_path):
    fig = confusion_figure(COUNTS, NAMES, "EDAFormer-T, ISR paper")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert ax.get_xlabel() == "prediction" and ax.get_ylabel() == "label"
    assert {t.get_text() for t in ax.texts} == {"80", "20", "25", "75"}
    assert np.allclose(ax.images[0].get_array(), row_normalised(COUNTS))
    fig.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
    big = confusion_figure(np.eye(150, dtype=int), [f"c{k}" for k in range(150)])
    assert big.get_size_inches()[1] > 20 and not big.axes[0].texts  # grows with the classes, no cell text
    with pytest.raises(ValueError, match="2 class names for a 3-class"):
        confusion_figure(COUNTS, NAMES[:2])


def test_csv_holds_the_counts(tmp_path):
    write_confusion_csv(tmp_path / "c.csv", COUNTS, NAMES)
    rows = list(csv.reader((tmp_path / "c.csv").read_text().splitlines()))
    assert rows[0] == ["label \\ prediction", *NAMES]
    assert rows[1] == ["road", "8", "2", "0"] and rows[3] == ["sky", "0", "0", "0"]


def test_sample_panel_and_contact_sheet():
    image = np.full((20, 30, 3), 100, np.uint8)
    label = np.zeros((20, 30), np.uint8)
    label[:, 20:] = 1
    label[15:] = 255  # padding
    panel = sample_panel(image, label, NAMES, [(255, 0, 0), (0, 255, 0), (0, 0, 255)], alpha=1.0)
    assert panel.shape[0] == 20 and panel.shape[1] > 60  # image | overlay | legend
    assert panel[:, :30].tolist() == image.tolist()  # the sample as augmented
    assert panel[0, 30].tolist() == [255, 0, 0] and panel[0, 55].tolist() == [0, 255, 0]  # mask colours
    assert panel[18, 30].tolist() == [100, 100, 100]  # ignored pixels keep the image
    sheet = contact_sheet([panel, panel[:10], panel], columns=2, gap=4)
    assert sheet.shape == (20 + 4 + 20, 2 * panel.shape[1] + 4, 3)
    assert sheet[30, 0].tolist() == list(panel[6, 0])  # third panel, second row
    assert sheet[22, 0].tolist() == [255, 255, 255]  # the gap
