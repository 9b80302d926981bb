"""``edaformer-prepare-cityscapes``: Cityscapes ``*_gtFine_labelTrainIds.png`` from the official
``*_gtFine_polygons.json`` with cityscapesscripts' converter (:mod:`edaformer.workflows.prepare`; ``pip install
'edaformer[cityscapes]'``). Arguments: ``conf/prepare_cityscapes.yaml`` (root: ``data.root``; ``--help``)."""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.prepare import cityscapes_sources, convert_all, convert_cityscapes

    sources = cityscapes_sources(cfg.data.root)
    errors = convert_all(convert_cityscapes, sources, bool(cfg.force), cfg.nproc, "Cityscapes → trainIds")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(sources) - len(errors)} of {len(sources)} label maps converted or up to date")
    if errors:
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-prepare-cityscapes`` (and ``scripts/prepare_cityscapes.py``)."""
    return run_command("prepare_cityscapes", _task)
