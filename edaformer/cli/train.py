"""``edaformer-train [key=value ...]`` (or ``python train.py ...``): train, then evaluate the last checkpoint (or
the best: ``final_eval.checkpoint=best``) on the validation split under each setting of ``final_eval.isr``
(:func:`edaformer.workflows.train.train`). Arguments: ``conf/train.yaml`` (``edaformer-train --help``)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from ..results import summary_table
from .entry import run_command


def _task(cfg: DictConfig) -> Any:
    from ..workflows.train import train

    result = train(cfg)
    if result.is_global_zero and result.rows:  # the final evaluation ran
        print(f"\nFinished in {result.seconds / 60:.1f} min; evaluated: {result.rows[0].checkpoint}")
        print(f"Evaluation on the validation split ({cfg.data._target_.rsplit('.', 1)[-1]}):")
        print(summary_table(result.rows))
        print(f"Run dir: {result.run_dir}")
    return result.metrics.get(cfg.get("optimized_metric") or "")  # for Hydra's sweepers


def main() -> int:
    """Entry point of ``edaformer-train`` (and ``train.py``)."""
    return run_command("train", _task)
