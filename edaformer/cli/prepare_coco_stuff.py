"""Write COCO-Stuff-164k train-id label maps: ``annotations/<split>/X.png`` → ``X_labelTrainIds.png``.

    python scripts/prepare_coco_stuff.py /data/coco_stuff164k [--nproc 8] [--force]

Raw stuffthingmap ids 0-181 minus the 11 unused COCO ids map in order to 0-170; the unused ids and 255
(unlabelled) become 255. Files already converted (output newer than input) are skipped, outputs are
written atomically, so the script can be re-run or interrupted safely. Exit 1 if any input is invalid.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import track

from ..data.classes import coco_stuff_lut
from ..data.io import DatasetError, ordered_starmap, read_mask

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="folder holding images/ and annotations/")
    parser.add_argument("--splits", nargs="+", default=["train2017", "val2017"])
    parser.add_argument("--nproc", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--force", action="store_true", help="rewrite files that are up to date")
    args = parser.parse_args(argv)

    sources: list[Path] = []
    for split in args.splits:
        ann_dir = args.root / "annotations" / split
        if not ann_dir.is_dir():
            print(
                f"error: {ann_dir} does not exist; expected <root>/annotations/{split}/*.png "
                "(unpack stuffthingmaps_trainval2017.zip there)",
                file=sys.stderr,
            )
            return 1
        found = sorted(
            p for p in ann_dir.glob("*.png") if not p.name.endswith(SUFFIX) and not p.name.startswith(".")
        )
        if not found:
            print(f"error: {ann_dir} holds no raw *.png label maps", file=sys.stderr)
            return 1
        sources += found
    jobs = [(s, args.force) for s in sources]
    errors = [
        e
        for e in track(
            ordered_starmap(convert, jobs, args.nproc), total=len(jobs), description="COCO-Stuff → train ids"
        )
        if e
    ]
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(sources) - len(errors)} of {len(sources)} label maps converted or up to date")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
