"""Segmenting image files (``edaformer-predict``): every input resized like the test set, predicted, resized back,
written as label / colour / overlay PNGs beside a ``predictions.json`` summary; nothing is ever overwritten unless
asked, and unreadable or oversized inputs are skipped and listed."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import UserError
from ..evaluation import ImageInputError, Segmenter, find_images, load_image
from ..evaluation.acceleration import describe
from ..files import check_new_files, write_json
from ..viz import add_legend, colorize, legend_entries, overlay, present_classes
from .checkpoint import require_checkpoint
from .segmenter import segmenter_from_config

__all__ = ["check_outputs", "output_stems", "predict"]

log = logging.getLogger("edaformer.predict")


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Segment every input of ``cfg.inputs`` into ``cfg.output_dir``; returns the summary written to
    ``predictions.json`` (``images``: one record per image; ``failed``: the inputs skipped, with the reason)."""
    require_checkpoint(cfg.get("ckpt_path"))
    inputs = OmegaConf.to_object(cfg.inputs) if OmegaConf.is_list(cfg.inputs) else str(cfg.inputs)
    paths = find_images(inputs)
    out_dir = Path(cfg.output_dir)
    stems = output_stems(paths)
    planned = [out_dir / f"{stem}_{kind}.png" for stem in stems for kind in cfg.save]
    check_outputs(out_dir, [*planned, out_dir / "predictions.json"], bool(cfg.overwrite))
    segmenter, info = segmenter_from_config(cfg)
    runtime = {"compile": bool(cfg.compile), "precision": str(cfg.precision)}
    log.info(
        "%s (%s checkpoint, %d classes%s), ISR %s, %s inference, test scale %s, device %s, %s",
        info.model_name, info.kind, info.num_classes,
        f", {segmenter.classes.dataset}" if segmenter.classes.dataset else "", segmenter.model.isr,
        segmenter.inference.mode, segmenter.test_scale, segmenter.device, describe(**runtime),
    )  # fmt: skip
    records, failed = [], []
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn()) as progress:  # fmt: skip
        task = progress.add_task("segmenting", total=len(paths))
        for path, stem in zip(paths, stems):
            progress.advance(task)
            try:
                image = load_image(path, background=tuple(cfg.background), max_pixels=cfg.max_image_pixels)
            except (ImageInputError, FileNotFoundError) as err:
                if cfg.fail_fast:
                    raise UserError(str(err)) from None
                log.error("skipped: %s", err)
                failed.append({"input": str(path), "error": str(err)})
                continue
            start = time.perf_counter()
            label = segmenter.predict(image)
            seconds = time.perf_counter() - start
            files = save_outputs(segmenter, image, label, out_dir / stem, cfg)
            present = present_classes(label, segmenter.classes.num_classes)
            records.append({
                "input": str(path),
                "size": list(image.shape[:2]),
                "network_input": list(segmenter.input_size(*image.shape[:2])),
                "seconds": round(seconds, 4),
                "classes": {segmenter.classes.names[k]: round(frac, 4) for k, frac in present},
                **files,
            })  # fmt: skip
    summary = {
        "ckpt_path": str(cfg.ckpt_path),
        "isr": str(segmenter.model.isr),
        **runtime,
        "classes": segmenter.classes.names,
        "palette": [list(c) for c in segmenter.classes.palette],
        "images": records,
        "failed": failed,
    }
    write_json(out_dir / "predictions.json", summary)
    return summary


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
    # names the file system takes: an input named with 250 characters cannot get an "_overlay.png" suffix
    check_new_files(files, overwrite=True, key="inputs")
    existing = [f for f in files if f.exists()]
    if existing and not overwrite:
        raise UserError(
            f"output_dir={out_dir} already holds {len(existing)} of the outputs (e.g. {existing[0].name}); pass "
            "overwrite=true to replace them, or choose another output_dir"
        )


def save_outputs(
    segmenter: Segmenter, image: np.ndarray, label: np.ndarray, stem: Path, cfg: DictConfig
) -> dict[str, str]:
    """The PNGs of ``cfg.save`` for one image; returns their paths by kind."""
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
