"""``edaformer-isr-table sweep_dir=MULTIRUN_DIR``: gather an ISR sweep (``edaformer-eval -m ...
isr=train,dec2x,paper,aggressive``) into the paper's Table 4, written as ``isr_table.{md,csv,png}`` in the sweep
dir (:mod:`edaformer.workflows.isr_table`). Arguments: ``conf/isr_table.yaml`` (``edaformer-isr-table --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from ..lit.loggers import prepare_wandb_env
from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.isr_table import build_table, log_wandb_table

    table = build_table(cfg.sweep_dir)
    print(table.text)
    print(f"\nwrote isr_table.md / .csv / .png in {cfg.sweep_dir}")
    if cfg.wandb:
        import wandb

        prepare_wandb_env()
        run = wandb.init(project=cfg.wandb_project, job_type="isr_table", dir=cfg.sweep_dir)
        log_wandb_table(run, table.results)
        run.finish()


def main() -> int:
    """Entry point of ``edaformer-isr-table`` (and ``scripts/isr_table.py``)."""
    return run_command("isr_table", _task)
