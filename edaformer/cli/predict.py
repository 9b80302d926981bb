"""``edaformer-predict``: segment images with a trained EDAFormer. Arguments: ``conf/predict.yaml``
(``edaformer-predict ckpt_path=PATH inputs=PATH [isr=paper]``; ``edaformer-predict --help``).

``inputs`` is an image, a folder (recursive) or a glob; every image may have its own size and aspect ratio (it is
resized like the test set, then the prediction is resized back), EXIF orientation is applied, and grey, palette,
RGBA/LA (composited over ``background``) and 16-bit images are converted; anything else is reported by name.
Per image ``<output_dir>/<relative path>_{label,color,overlay}.png`` are written, and ``predictions.json``
lists each image's size, time and classes. ``show_legend=true`` adds the class names present to the overlays.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..evaluation import ImageInputError, Segmenter, find_images, load_image
from ..viz import add_legend, colorize, legend_entries, overlay, present_classes
from .segmenter_config import segmenter_from_config
from .utils import CONF_DIR, UserError, report_user_errors, require_checkpoint, run_hydra_main

log = logging.getLogger("edaformer.predict")
OUTPUT_KINDS = ("label", "color", "overlay")


def _choice(group: str) -> str | None:
    try:
        return HydraConfig.get().runtime.choices.get(group)
    except ValueError:  # composed outside a Hydra app (tests)
        return None


def build_segmenter(cfg: DictConfig) -> Segmenter:
    """Model + class metadata + test recipe from the config (``data`` group first, then ``dataset``)."""
    require_checkpoint(cfg.get("ckpt_path"))
    with open_dict(cfg):
        cfg.data_choice = _choice("data")
    try:
        segmenter, info = segmenter_from_config(cfg)
    except (ValueError, KeyError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    log.info(
        "%s (%s checkpoint, %d classes%s), ISR %s, %s inference, test scale %s, device %s",
        info.model_name,
        info.kind,
        info.num_classes,
        f", {segmenter.classes.dataset}" if segmenter.classes.dataset else "",
        segmenter.model.isr,
        segmenter.inference.mode,
        segmenter.test_scale,
        segmenter.device,
    )
    return segmenter


def output_stems(paths: list[Path], inputs: Any) -> list[Path]:
    """Output path stems mirroring the inputs below their common folder (no two images share a stem)."""
    parents = [p.resolve().parent for p in paths]
    root = Path(os.path.commonpath(parents)) if parents else Path(".")
    stems = [p.resolve().parent.relative_to(root) / p.stem for p in paths]
    seen: dict[Path, int] = {}
    out = []
    for stem, path in zip(stems, paths):
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        out.append(stem if n == 0 else stem.with_name(f"{stem.name}_{path.suffix.lstrip('.')}{n}"))
    return out


def save_outputs(
    segmenter: Segmenter, image: np.ndarray, label: np.ndarray, stem: Path, cfg: DictConfig
) -> dict:
    classes = segmenter.classes
    files = {}
    stem.parent.mkdir(parents=True, exist_ok=True)
    if "label" in cfg.save:
        files["label"] = f"{stem}_label.png"
        Image.fromarray(label).save(files["label"])
    if "color" in cfg.save:
        files["color"] = f"{stem}_color.png"
        Image.fromarray(colorize(label, classes.palette)).save(files["color"])
    if "overlay" in cfg.save:
        picture = overlay(image, label, classes.palette, alpha=float(cfg.alpha))
        if cfg.show_legend:
            picture = add_legend(picture, legend_entries(label, classes.names, classes.palette))
        files["overlay"] = f"{stem}_overlay.png"
        Image.fromarray(picture).save(files["overlay"])
    return files


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Segment every input; returns the summary written to ``predictions.json``."""
    unknown = sorted(set(cfg.save) - set(OUTPUT_KINDS))
    if unknown:
        raise UserError(f"save: unknown output {unknown}; valid: {', '.join(OUTPUT_KINDS)}")
    inputs = OmegaConf.to_object(cfg.inputs) if OmegaConf.is_list(cfg.inputs) else str(cfg.inputs)
    paths = find_images(inputs)
    segmenter = build_segmenter(cfg)
    out_dir = Path(cfg.output_dir)
    stems = output_stems(paths, inputs)
    records, failed = [], []
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task("segmenting", total=len(paths))
        for path, stem in zip(paths, stems):
            try:
                image = load_image(path, background=tuple(cfg.background))
            except (ImageInputError, FileNotFoundError) as err:
                if cfg.fail_fast:
                    raise UserError(str(err)) from None
                log.error("skipped: %s", err)
                failed.append({"input": str(path), "error": str(err)})
                progress.advance(task)
                continue
            start = time.perf_counter()
            label = segmenter.predict(image)
            seconds = time.perf_counter() - start
            files = save_outputs(segmenter, image, label, out_dir / stem, cfg)
            present = present_classes(label, segmenter.classes.num_classes)
            records.append(
                {
                    "input": str(path),
                    "size": list(image.shape[:2]),
                    "network_input": list(segmenter.input_size(*image.shape[:2])),
                    "seconds": round(seconds, 4),
                    "classes": {segmenter.classes.names[k]: round(frac, 4) for k, frac in present},
                    **files,
                }
            )
            progress.advance(task)
    summary = {
        "ckpt_path": str(cfg.ckpt_path),
        "isr": str(segmenter.model.isr),
        "classes": segmenter.classes.names,
        "palette": [list(c) for c in segmenter.classes.palette],
        "images": records,
        "failed": failed,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "predictions.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{len(records)} image(s) segmented into {out_dir}" + (f"; {len(failed)} skipped" if failed else "")
    )
    return summary


@hydra.main(config_path=str(CONF_DIR), config_name="predict", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    summary = predict(cfg)
    if summary["failed"]:
        for item in summary["failed"]:
            print(f"error: {item['error']}", file=sys.stderr)
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-predict`` (and ``scripts/predict.py``)."""
    return run_hydra_main(_main)
