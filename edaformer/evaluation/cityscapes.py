"""The Cityscapes benchmark's own format and scoring, as the authors' ``format_results`` / ``--eval cityscapes``
(``mmseg/datasets/cityscapes.py``).

Predictions are written as one PNG per image, named after the image (``<city>_<seq>_<frame>_leftImg8bit.png``),
whose pixel values are Cityscapes *label ids* (``labelIds``, 0–33: what the benchmark server and cityscapesscripts
read), converted from our 19 train ids with cityscapesscripts' label table and carrying its colours as the PNG
palette. :func:`evaluate_label_ids` scores such a folder with cityscapesscripts' official
``evalPixelLevelSemanticLabeling`` against ``gtFine/<split>/*/*_gtFine_labelIds.png`` (class and category IoU,
and the instance-weighted iIoU from ``*_gtFine_instanceIds.png``, as the authors set it).

cityscapesscripts is the optional extra ``edaformer[cityscapes]`` (the dev extra includes it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

LABEL_IDS = "_gtFine_labelIds.png"


def _labels() -> Any:
    try:
        from cityscapesscripts.helpers import labels
    except ImportError:
        raise ImportError(
            "cityscapesscripts is not installed: pip install cityscapesscripts (or 'edaformer[cityscapes]')"
        ) from None
    return labels


@cache
def label_id_table() -> np.ndarray:
    """``[256] uint8``: train id → Cityscapes label id (the authors' ``_convert_to_label_id``); values without a
    train id map to 0 (``unlabeled``)."""
    table = np.zeros(256, np.uint8)
    for train_id, label in _labels().trainId2label.items():
        if 0 <= train_id < 255:
            table[train_id] = label.id
    return table


@cache
def label_id_palette() -> list[int]:
    """The PNG palette: each label id's Cityscapes colour, flattened ``[r0, g0, b0, r1, ...]``."""
    palette = np.zeros((256, 3), np.uint8)
    for label_id, label in _labels().id2label.items():
        if label_id >= 0:
            palette[label_id] = label.color
    return palette.flatten().tolist()


def result_name(image_path: str | os.PathLike) -> str:
    """The file name of an image's prediction: the image's, with ``.png`` (the authors' ``results2img``)."""
    return Path(image_path).stem + ".png"


def write_label_ids(train_ids: np.ndarray, path: str | os.PathLike) -> None:
    """Write train ids ``[H, W]`` as a label-id PNG (mode P, Cityscapes colours), atomically."""
    if train_ids.ndim != 2:
        raise ValueError(f"expected train ids [H, W], got shape {train_ids.shape}")
    image = Image.fromarray(label_id_table()[train_ids.astype(np.uint8)], mode="L").convert("P")
    image.putpalette(label_id_palette())
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial.png")
    image.save(tmp)
    os.replace(tmp, path)


class _NumPyWithIn1d:
    """NumPy as cityscapesscripts 2.3's evaluator expects it: with ``np.in1d``, which NumPy 2.4 removed (the same
    as ``np.isin(...).ravel()``). Handed to that module only; NumPy itself is left alone."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False) -> np.ndarray:
        return np.isin(ar1, ar2, assume_unique=assume_unique, invert=invert).ravel()


class CityscapesEvalError(RuntimeError):
    """cityscapesscripts refused the files (a prediction or ground truth missing, sizes that differ)."""


def evaluate_label_ids(
    prediction_dir: str | os.PathLike, gt_dir: str | os.PathLike, output_dir: str | os.PathLike
) -> dict[str, Any]:
    """Score a folder of label-id PNGs with cityscapesscripts' ``evalPixelLevelSemanticLabeling``.

    Every ``*_gtFine_labelIds.png`` under ``gt_dir`` (e.g. ``<root>/gtFine/val``) needs exactly one prediction
    ``<city>_<seq>_<frame>*.png`` under ``prediction_dir`` at the same size (the official protocol). The
    evaluator's printout goes to ``<output_dir>/cityscapes_eval.log`` and its results to
    ``<output_dir>/cityscapes_eval.json``. Returns that dict: ``averageScoreClasses`` (mIoU over the 19 classes,
    in [0, 1]), ``averageScoreInstClasses`` (iIoU), ``averageScoreCategories``, ``classScores``, ... Raises
    :class:`CityscapesEvalError` with the evaluator's message when it gives up.
    """
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs_eval

    if not hasattr(cs_eval.np, "in1d"):
        cs_eval.np = _NumPyWithIn1d()
    gts = sorted(str(p) for p in Path(gt_dir).rglob(f"*{LABEL_IDS}"))
    if not gts:
        raise CityscapesEvalError(f"no *{LABEL_IDS} under {gt_dir} (they come with gtFine_trainvaltest.zip)")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    args = cs_eval.args  # the evaluator's module-level settings, set as the authors do
    args.predictionPath = os.path.abspath(prediction_dir)
    args.predictionWalk = None  # the folder is walked again for this call
    args.evalInstLevelScore = all(os.path.isfile(g.replace("labelIds", "instanceIds")) for g in gts)
    args.evalPixelAccuracy = True
    args.JSONOutput = False  # its writer cannot serialise NumPy 2 scalars; written below
    args.colorized, args.bold, args.nocol = False, "", ""
    args.quiet = False
    printout = io.StringIO()
    try:
        with contextlib.redirect_stdout(printout):
            predictions = [cs_eval.getPrediction(args, gt) for gt in gts]
            results = cs_eval.evaluateImgLists(predictions, gts, args)
    except SystemExit:  # the evaluator prints "ERROR: ..." and exits
        lines = [line for line in printout.getvalue().splitlines() if line.startswith("ERROR")]
        raise CityscapesEvalError(
            f"cityscapesscripts: {lines[-1] if lines else 'evaluation failed'} (predictions: {prediction_dir})"
        ) from None
    finally:
        (output_dir / "cityscapes_eval.log").write_text(printout.getvalue())
    text = json.dumps(results, default=lambda v: v.item() if isinstance(v, np.generic) else str(v), indent=2)
    (output_dir / "cityscapes_eval.json").write_text(text + "\n")
    return results
