"""``edaformer-prepare-coco-stuff``: COCO-Stuff-164k train-id label maps, ``annotations/<split>/X.png`` →
``X_labelTrainIds.png`` (raw ids 0-181 minus the 11 unused COCO ids → 0-170, the rest 255;
:mod:`edaformer.workflows.prepare`). Arguments: ``conf/prepare_coco_stuff.yaml`` (root: ``data.root``; ``--help``).
Exit 1 if any input is invalid (each is listed)."""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.prepare import coco_stuff_sources, convert_all, convert_coco_stuff

    sources = coco_stuff_sources(cfg.data.root, [str(s) for s in cfg.splits])
    errors = convert_all(convert_coco_stuff, sources, bool(cfg.force), cfg.nproc, "COCO-Stuff → train ids")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(sources) - len(errors)} of {len(sources)} label maps converted or up to date")
    if errors:
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-prepare-coco-stuff`` (and ``scripts/prepare_coco_stuff.py``)."""
    return run_command("prepare_coco_stuff", _task)
