"""Scan a whole dataset and report sizes, class histograms and every problem; exit 1 if any.

    python scripts/check_dataset.py data=ade20k data.root=/data/ade
    python scripts/check_dataset.py data=demo 'check.splits=[train,val]'

Composes ``conf/data_tools.yaml`` (its ``data`` group is ``conf/data/<name>.yaml``) with Hydra overrides.
"""

from __future__ import annotations

import sys

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from ..data.check import check_datamodule, format_report
from .utils import CONF_DIR


def main(argv: list[str]) -> int:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="data_tools", overrides=argv)
    dm = instantiate(cfg.data)
    reports = check_datamodule(dm, roles=list(cfg.check.splits), progress=sys.stderr.isatty())
    print(format_report(dm, reports, max_listed=cfg.check.max_listed))
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
