"""``edaformer-predict ckpt_path=PATH inputs=PATH [isr=paper]``: segment images with a trained EDAFormer
(:mod:`edaformer.workflows.predict`). Arguments: ``conf/predict.yaml`` (``edaformer-predict --help``).

``inputs`` is an image, a folder (recursive) or a glob; every image may have its own size (it is resized like the
test set, then the prediction is resized back). Per image ``<output_dir>/<relative path>_{label,color,overlay}.png``
are written, and ``predictions.json`` lists each image's size, time and classes. Existing outputs are never
overwritten unless ``overwrite=true``; unreadable images and images above ``max_image_pixels`` are skipped, listed,
and make the exit status 1.
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.predict import predict

    summary = predict(cfg)
    skipped = f"; {len(summary['failed'])} skipped" if summary["failed"] else ""
    print(f"{len(summary['images'])} image(s) segmented into {cfg.output_dir}{skipped}")
    for item in summary["failed"]:
        print(f"error: {item['error']}", file=sys.stderr)
    if summary["failed"]:
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-predict`` (and ``scripts/predict.py``)."""
    return run_command("predict", _task)
