"""``edaformer-check-dataset``: scan a whole dataset and report sizes, class histograms and every problem; exit
status 1 if there is any (:mod:`edaformer.data.check`). Arguments: ``conf/check_dataset.yaml`` (its ``data`` group
is ``conf/data/<name>.yaml``; ``edaformer-check-dataset --help``)."""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from hydra.utils import instantiate

    from ..data.check import check_datamodule, format_report

    dm = instantiate(cfg.data)
    reports = check_datamodule(dm, roles=[str(s) for s in cfg.splits], progress=sys.stderr.isatty())
    print(format_report(dm, reports, max_listed=int(cfg.max_listed)))
    if any(r.problems for r in reports):
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-check-dataset`` (and ``scripts/check_dataset.py``)."""
    return run_command("check_dataset", _task)
