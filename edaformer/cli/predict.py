"""``edaformer-predict``: segment images with a trained EDAFormer. Arguments: ``conf/predict.yaml``
(``edaformer-predict ckpt_path=PATH inputs=PATH [isr=paper]``; ``edaformer-predict --help``).

``inputs`` is an image, a folder (recursive) or a glob; every image may have its own size and aspect ratio (it is
resized like the test set, then the prediction is resized back), EXIF orientation is applied, and grey, palette,
RGBA/LA (composited over ``background``) and 16-bit images are converted; anything else is reported by name.
Per image ``<output_dir>/<relative path without extension>_{label,color,overlay}.png`` are written (inputs that
share a name up to the extension keep it: ``a.png_label.png``, ``a.jpg_label.png``), and ``predictions.json``
lists each image's size, time and classes. ``show_legend=true`` adds the class names present to the overlays.
Existing outputs are never overwritten unless ``overwrite=true``; images above ``max_image_pixels`` are skipped.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..evaluation import ImageInputError, Segmenter, find_images, load_image
from ..evaluation.acceleration import describe
from ..files import write_json
from ..viz import add_legend, colorize, legend_entries, overlay, present_classes
from .segmenter_config import segmenter_from_config
from .utils import (
    CONF_DIR,
    UserError,
    acceleration_options,
    report_user_errors,
    require_checkpoint,
    run_hydra_main,
    shown,
)

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
        "%s (%s checkpoint, %d classes%s), ISR %s, %s inference, test scale %s, device %s, %s",
        info.model_name,
        info.kind,
        info.num_classes,
        f", {segmenter.classes.dataset}" if segmenter.classes.dataset else "",
        segmenter.model.isr,
        segmenter.inference.mode,
        segmenter.test_scale,
        segmenter.device,
        describe(**acceleration_options(cfg)),
    )
    return segmenter


def output_stems(paths: list[Path]) -> list[Path]:
    """Output path stems that cannot collide: each input's path below the inputs' common folder, without its
    extension (``sub/a.jpg`` → ``sub/a``), or with it where inputs share a name up to the extension (``a.png`` →
    ``a.png``, ``a.jpg`` → ``a.jpg``). Names are compared ignoring letter case (case-insensitive file systems);
    two inputs that would still share their outputs are a :class:`UserError` naming both."""
    resolved = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in resolved])) if paths else Path(".")
    relative = [p.relative_to(root) for p in resolved]
    bare = [r.with_suffix("") for r in relative]
    uses = Counter(str(b).casefold() for b in bare)
    stems = [b if uses[str(b).casefold()] == 1 else r for r, b in zip(relative, bare)]
    owner: dict[str, Path] = {}
    for path, stem in zip(paths, stems):
        other = owner.setdefault(str(stem).casefold(), path)
        if other != path:
            raise UserError(f"inputs {other} and {path} would both write {stem}_*.png; rename one of them")
    return stems


def check_outputs(out_dir: Path, files: list[Path], overwrite: bool) -> None:
    """Before any work: ``out_dir`` can be created and written, and none of ``files`` exists (or ``overwrite``)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as err:
        raise UserError(f"output_dir={out_dir}: cannot write there ({err.strerror or err})") from None
    existing = [f for f in files if f.exists()]
    if existing and not overwrite:
        raise UserError(
            f"output_dir={out_dir} already holds {len(existing)} of the outputs (e.g. {existing[0].name}); pass "
            "overwrite=true to replace them, or choose another output_dir"
        )


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
    acceleration_options(cfg)  # a bad compile=/precision= is reported before any file is read
    unknown = sorted(set(cfg.save) - set(OUTPUT_KINDS))
    if unknown:
        raise UserError(f"save: unknown output {unknown}; valid: {', '.join(OUTPUT_KINDS)}")
    alpha = cfg.alpha
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise UserError(f"alpha={shown(alpha)}: expected a number in [0, 1] (the weight of the mask colour)")
    max_pixels = cfg.max_image_pixels
    if max_pixels is not None and (
        isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1
    ):
        raise UserError(f"max_image_pixels={shown(max_pixels)}: expected a number of pixels >= 1, or null")
    require_checkpoint(cfg.get("ckpt_path"))
    inputs = OmegaConf.to_object(cfg.inputs) if OmegaConf.is_list(cfg.inputs) else str(cfg.inputs)
    paths = find_images(inputs)
    out_dir = Path(cfg.output_dir)
    stems = output_stems(paths)
    planned = [out_dir / f"{stem}_{kind}.png" for stem in stems for kind in cfg.save]
    check_outputs(out_dir, [*planned, out_dir / "predictions.json"], bool(cfg.overwrite))
    segmenter = build_segmenter(cfg)
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
                image = load_image(path, background=tuple(cfg.background), max_pixels=max_pixels)
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
        **acceleration_options(cfg),
        "classes": segmenter.classes.names,
        "palette": [list(c) for c in segmenter.classes.palette],
        "images": records,
        "failed": failed,
    }
    write_json(out_dir / "predictions.json", summary)
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
