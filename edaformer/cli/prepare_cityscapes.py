"""``edaformer-prepare-cityscapes``: Cityscapes ``*_gtFine_labelTrainIds.png`` from the official
``*_gtFine_polygons.json``. Arguments: ``conf/prepare_cityscapes.yaml`` (root: ``data.root``; ``--help``).

Runs the official converter (cityscapesscripts' ``json2labelImg(..., "trainIds")``) on every polygon file
under ``<root>/gtFine``. Up-to-date outputs are skipped and outputs are written atomically, so re-running
is cheap and an interrupted run leaves no half-written file. Needs ``pip install cityscapesscripts``
(or ``pip install edaformer[cityscapes]``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig
from rich.progress import track

from ..data.io import ordered_starmap
from .utils import CONF_DIR, UserError, as_count, report_user_errors, run_hydra_main

POLYGONS = "_gtFine_polygons.json"
TRAIN_IDS = "_gtFine_labelTrainIds.png"


def convert(src: Path, force: bool = False) -> str | None:
    """Convert one polygon file; returns an error message instead of raising."""
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


@hydra.main(config_path=str(CONF_DIR), config_name="prepare_cityscapes", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    nproc = (os.cpu_count() or 1) if cfg.nproc is None else as_count(cfg.nproc, "nproc")
    try:
        import cityscapesscripts  # noqa: F401
    except ImportError:
        raise UserError(
            "cityscapesscripts is not installed; run `pip install cityscapesscripts` (or 'edaformer[cityscapes]')"
        ) from None
    gt_dir = Path(cfg.data.root) / "gtFine"
    if not gt_dir.is_dir():
        raise UserError(
            f"{gt_dir} does not exist; expected <data.root>/gtFine/<split>/<city>/*{POLYGONS} "
            "(unpack gtFine_trainvaltest.zip into data.root)"
        )
    sources = sorted(gt_dir.rglob(f"*{POLYGONS}"))
    if not sources:
        raise UserError(f"no *{POLYGONS} files under {gt_dir}")
    jobs = [(s, bool(cfg.force)) for s in sources]
    errors = [
        e
        for e in track(
            ordered_starmap(convert, jobs, nproc), total=len(jobs), description="Cityscapes → trainIds"
        )
        if e
    ]
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(sources) - len(errors)} of {len(sources)} label maps converted or up to date")
    if errors:
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-prepare-cityscapes`` (and ``scripts/prepare_cityscapes.py``)."""
    return run_hydra_main(_main)
