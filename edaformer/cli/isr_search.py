"""``edaformer-isr-search ckpt_path=... budget.gflops=4.5``: the accuracy–cost Pareto front of a trained model's ISR
settings and the best one under a budget (:mod:`edaformer.workflows.isr_search`). Arguments:
``conf/isr_search.yaml`` (``edaformer-isr-search --help``).

The best setting is written as an ``isr`` preset, ``<run dir>/conf/isr/<preset_name>.yaml``: with
``hydra.searchpath=[file://<run dir>/conf]`` every command takes ``isr=<preset_name>``.
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.isr_search import search

    try:
        run = search(cfg)
    except KeyboardInterrupt:
        out = cfg.search.resume_dir or cfg.paths.output_dir
        print(f"\ninterrupted: finished trials are stored in {out}; resume with the same arguments and "
              f"search.resume_dir={out}", file=sys.stderr)  # fmt: skip
        sys.exit(130)
    print(run.text)
    print(f"Run dir: {run.out}")


def main() -> int:
    """Entry point of ``edaformer-isr-search`` (and ``scripts/isr_search.py``)."""
    return run_command("isr_search", _task)
