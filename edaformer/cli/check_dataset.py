"""``edaformer-check-dataset``: scan a whole dataset and report sizes, class histograms and every problem; exit
status 1 if there is any. Arguments: ``conf/check_dataset.yaml`` (its ``data`` group is ``conf/data/<name>.yaml``;
``edaformer-check-dataset --help``).
"""

from __future__ import annotations

import sys

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..data.check import check_datamodule, format_report
from .utils import CONF_DIR, as_count, as_list, report_user_errors, run_hydra_main


@hydra.main(config_path=str(CONF_DIR), config_name="check_dataset", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    dm = instantiate(cfg.data)
    reports = check_datamodule(dm, roles=as_list(cfg.splits), progress=sys.stderr.isatty())
    print(format_report(dm, reports, max_listed=as_count(cfg.max_listed, "max_listed", minimum=0)))
    if any(r.problems for r in reports):
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-check-dataset`` (and ``scripts/check_dataset.py``)."""
    return run_hydra_main(_main)
