"""``edaformer-isr-table sweep_dir=MULTIRUN_DIR``: gather an ISR sweep (``edaformer-eval -m ...
isr=train,dec2x,paper,aggressive``) into the paper's Table 4, written as ``isr_table.{md,csv,png}`` in the sweep
dir; ``sweep_dir=[A,B,C]`` puts several sweeps' datasets side by side (:mod:`edaformer.workflows.isr_table`).
Arguments: ``conf/isr_table.yaml`` (``edaformer-isr-table --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.isr_table import isr_table

    table = isr_table(cfg)
    print(table.text)
    print(f"\nwrote isr_table.md / .csv{' / .png' * (len(table.sweeps) == 1)} in {table.output_dir}")
    if table.wandb_run:
        print(f"W&B run {table.wandb_run}")


def main() -> int:
    """Entry point of ``edaformer-isr-table`` (and ``scripts/isr_table.py``)."""
    return run_command("isr_table", _task)
