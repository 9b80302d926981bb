"""``edaformer-browse-dataset data=... n=16``: training samples as the network sees them — after the augmentation
pipeline of ``conf/data/<name>.yaml`` — with the mask overlaid and a legend of the classes present, written as
``sample_<k>_<image name>.png`` and ``overview.png`` (:func:`edaformer.workflows.datasets.browse_dataset`).
Arguments: ``conf/browse_dataset.yaml`` (``edaformer-browse-dataset --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.datasets import browse_dataset

    dm, files = browse_dataset(cfg)
    print(f"{len(files) - 1} {cfg.split} samples of {type(dm).__name__} ({dm.root}) after the {cfg.split} "
          f"pipeline: {cfg.output_dir}")  # fmt: skip


def main() -> int:
    """Entry point of ``edaformer-browse-dataset`` (and ``scripts/browse_dataset.py``)."""
    return run_command("browse_dataset", _task)
