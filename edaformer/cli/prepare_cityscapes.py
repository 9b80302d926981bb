"""Create Cityscapes ``*_gtFine_labelTrainIds.png`` from the official ``*_gtFine_polygons.json``.

    python scripts/prepare_cityscapes.py /data/cityscapes [--nproc 8] [--force]

Runs the official converter (cityscapesscripts' ``json2labelImg(..., "trainIds")``) on every polygon file
under ``<root>/gtFine``. Up-to-date outputs are skipped and outputs are written atomically, so re-running
is cheap and an interrupted run leaves no half-written file. Needs ``pip install cityscapesscripts``
(or ``pip install edaformer[cityscapes]``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.progress import track

from ..data.io import ordered_starmap

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="folder holding leftImg8bit/ and gtFine/")
    parser.add_argument("--nproc", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--force", action="store_true", help="rewrite files that are up to date")
    args = parser.parse_args(argv)
    try:
        import cityscapesscripts  # noqa: F401
    except ImportError:
        print(
            "error: cityscapesscripts is not installed; run `pip install cityscapesscripts`", file=sys.stderr
        )
        return 1
    gt_dir = args.root / "gtFine"
    if not gt_dir.is_dir():
        print(
            f"error: {gt_dir} does not exist; expected <root>/gtFine/<split>/<city>/*{POLYGONS} "
            "(unpack gtFine_trainvaltest.zip into root)",
            file=sys.stderr,
        )
        return 1
    sources = sorted(gt_dir.rglob(f"*{POLYGONS}"))
    if not sources:
        print(f"error: no *{POLYGONS} files under {gt_dir}", file=sys.stderr)
        return 1
    jobs = [(s, args.force) for s in sources]
    errors = [
        e
        for e in track(
            ordered_starmap(convert, jobs, args.nproc), total=len(jobs), description="Cityscapes → trainIds"
        )
        if e
    ]
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(sources) - len(errors)} of {len(sources)} label maps converted or up to date")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
