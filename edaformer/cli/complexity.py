"""``edaformer-complexity``: params and GFLOPs (multiply-accumulates, the paper's convention) of any model × ISR
setting × input size, the paper's Tables 1 and 4 next to ours (``table=paper``; exit 1 if a cell is off), or its
Table 3 (``table=attention``) (:mod:`edaformer.workflows.complexity`). Arguments: ``conf/complexity.yaml`` (``edaformer-complexity --help``)."""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.complexity import attention_table, complexity, paper_tables

    if str(cfg.table) == "none":
        print(complexity(cfg))
        return
    if str(cfg.table) == "attention":
        print(attention_table(cfg))
        return
    tables, ok = paper_tables()
    print(tables)
    print("\nall cells as the paper prints them" if ok else "\nSOME CELLS DIFFER FROM THE PAPER (✗)")
    if not ok:
        sys.exit(1)


def main() -> int:
    """Entry point of ``edaformer-complexity`` (and ``scripts/complexity.py``)."""
    return run_command("complexity", _task)
