"""``edaformer-prepare-coco-stuff``: COCO-Stuff-164k train-id label maps, ``annotations/<split>/X.png`` →
``X_labelTrainIds.png``. Arguments: ``conf/prepare_coco_stuff.yaml`` (root: ``data.root``; ``--help``).

Raw stuffthingmap ids 0-181 minus the 11 unused COCO ids map in order to 0-170; the unused ids and 255
(unlabelled) become 255. Files already converted (output newer than input) are skipped, outputs are
written atomically, so the command can be re-run or interrupted safely. Exit 1 if any input is invalid.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig
from PIL import Image
from rich.progress import track

from ..data.classes import coco_stuff_lut
from ..data.io import DatasetError, ordered_starmap, read_mask
from .utils import CONF_DIR, UserError, as_count, as_list, report_user_errors, run_hydra_main

SUFFIX = "_labelTrainIds.png"


def convert(src: Path, force: bool = False) -> str | None:
    """Convert one raw map; returns an error message instead of raising (so all files are reported)."""
    dst = src.with_name(src.stem + SUFFIX)
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


@hydra.main(config_path=str(CONF_DIR), config_name="prepare_coco_stuff", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    nproc = (os.cpu_count() or 1) if cfg.nproc is None else as_count(cfg.nproc, "nproc")
    sources: list[Path] = []
    for split in as_list(cfg.splits):
        ann_dir = Path(cfg.data.root) / "annotations" / str(split)
        if not ann_dir.is_dir():
            raise UserError(
                f"{ann_dir} does not exist; expected <data.root>/annotations/{split}/*.png "
                "(unpack stuffthingmaps_trainval2017.zip there)"
            )
        found = sorted(
            p for p in ann_dir.glob("*.png") if not p.name.endswith(SUFFIX) and not p.name.startswith(".")
        )
        if not found:
            raise UserError(f"{ann_dir} holds no raw *.png label maps")
        sources += found
    jobs = [(s, bool(cfg.force)) for s in sources]
    errors = [
        e
        for e in track(
            ordered_starmap(convert, jobs, nproc), total=len(jobs), description="COCO-Stuff → train ids"
        )
        if e
    ]
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(sources) - len(errors)} of {len(sources)} label maps converted or up to date")
    if errors:
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-prepare-coco-stuff`` (and ``scripts/prepare_coco_stuff.py``)."""
    return run_hydra_main(_main)
