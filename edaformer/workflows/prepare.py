"""Train-id label maps of the official releases (``edaformer-prepare-cityscapes``,
``edaformer-prepare-coco-stuff``). Up-to-date outputs are skipped and outputs are written atomically, so re-running
is cheap and an interrupted run leaves no half-written file; every input that cannot be converted is reported."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import track

from ..data.classes import coco_stuff_lut
from ..data.io import DatasetError, ordered_starmap, read_mask
from ..errors import UserError

__all__ = [
    "cityscapes_sources",
    "coco_stuff_sources",
    "convert_all",
    "convert_cityscapes",
    "convert_coco_stuff",
]

POLYGONS = "_gtFine_polygons.json"
TRAIN_IDS = "_gtFine_labelTrainIds.png"
COCO_SUFFIX = "_labelTrainIds.png"


def convert_all(
    convert: Callable[[Path, bool], str | None],
    sources: Sequence[Path],
    force: bool,
    nproc: int | None,
    what: str,
) -> list[str]:
    """``convert`` every source on ``nproc`` processes (every core: ``None``) with a progress bar; returns the
    error messages, in the sources' order."""
    jobs = [(s, force) for s in sources]
    done = ordered_starmap(convert, jobs, nproc or os.cpu_count() or 1)
    return [e for e in track(done, total=len(jobs), description=what) if e]


def cityscapes_sources(root: str | os.PathLike) -> list[Path]:
    """Every ``*_gtFine_polygons.json`` under ``<root>/gtFine``; a missing folder or none is a :class:`UserError`."""
    try:
        import cityscapesscripts  # noqa: F401
    except ImportError:
        raise UserError(
            "cityscapesscripts is not installed; run `pip install cityscapesscripts` (or 'edaformer[cityscapes]')"
        ) from None
    gt_dir = Path(root) / "gtFine"
    if not gt_dir.is_dir():
        raise UserError(
            f"{gt_dir} does not exist; expected <data.root>/gtFine/<split>/<city>/*{POLYGONS} "
            "(unpack gtFine_trainvaltest.zip into data.root)"
        )
    sources = sorted(gt_dir.rglob(f"*{POLYGONS}"))
    if not sources:
        raise UserError(f"no *{POLYGONS} files under {gt_dir}")
    return sources


def convert_cityscapes(src: Path, force: bool = False) -> str | None:
    """One polygon file → ``*_gtFine_labelTrainIds.png`` by cityscapesscripts' ``json2labelImg``; returns an error
    message instead of raising."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    dst = src.with_name(src.name[: -len(POLYGONS)] + TRAIN_IDS)
    if not force and dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
        return None
    tmp = dst.with_name(f".{dst.name}.partial.png")
    try:
        json2labelImg(str(src), str(tmp), "trainIds")
    except Exception as err:  # the converter raises bare exceptions on malformed JSON
        tmp.unlink(missing_ok=True)
        return (
            f"{src}: cannot convert ({type(err).__name__}: {err}); expected an official gtFine polygons file"
        )
    os.replace(tmp, dst)
    return None


def coco_stuff_sources(root: str | os.PathLike, splits: Sequence[str]) -> list[Path]:
    """The raw label maps of ``<root>/annotations/<split>/`` for every split; a missing or empty folder is a
    :class:`UserError`."""
    sources: list[Path] = []
    for split in splits:
        ann_dir = Path(root) / "annotations" / str(split)
        if not ann_dir.is_dir():
            raise UserError(
                f"{ann_dir} does not exist; expected <data.root>/annotations/{split}/*.png "
                "(unpack stuffthingmaps_trainval2017.zip there)"
            )
        found = sorted(
            p
            for p in ann_dir.glob("*.png")
            if not p.name.endswith(COCO_SUFFIX) and not p.name.startswith(".")
        )
        if not found:
            raise UserError(f"{ann_dir} holds no raw *.png label maps")
        sources += found
    return sources


def convert_coco_stuff(src: Path, force: bool = False) -> str | None:
    """One raw COCO-Stuff map (ids 0-181, 255) → ``X_labelTrainIds.png`` (0-170, 255); returns an error message
    instead of raising (so all files are reported)."""
    dst = src.with_name(src.stem + COCO_SUFFIX)
    if not force and dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
        return None
    try:
        raw = read_mask(src)
    except DatasetError as err:
        return str(err)
    bad = np.setdiff1d(np.unique(raw), np.r_[np.arange(182), 255])
    if bad.size:
        return f"{src}: values {bad.tolist()} are not COCO-Stuff ids; expected 0-181 or 255 (unlabelled)"
    tmp = dst.with_name(f".{dst.name}.partial.png")
    Image.fromarray(coco_stuff_lut()[raw]).save(tmp)
    os.replace(tmp, dst)
    return None
