"""``edaformer-eval ckpt_path=... [model=...] [data=...] [isr=paper]`` (or ``python eval.py ...``): evaluate one
checkpoint (ours, a Lightning .ckpt, the authors' MMSeg .pth, a hub folder or repo id) on the validation split
(:func:`edaformer.workflows.evaluate.evaluate`). Arguments: ``conf/eval.yaml`` (``edaformer-eval --help``).

Writes ``results.{json,csv,md}``, ``per_class_<setting>.md`` and the confusion matrix into the run dir; with
``-m ... isr=train,dec2x,paper,aggressive`` each job of the sweep writes its own, and ``edaformer-isr-table
sweep_dir=MULTIRUN_DIR`` gathers them into the paper's Table 4. Cityscapes, as the authors' ``--format-only`` /
``--eval cityscapes``: ``cityscapes_format=DIR`` writes every prediction as the benchmark's label-id PNG, and
``cityscapes_eval=true`` scores them with cityscapesscripts' official evaluation.
"""

from __future__ import annotations

from omegaconf import DictConfig

from ..results import summary_table
from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.evaluate import evaluate

    row = evaluate(cfg)
    if row.table:
        print(row.table)
    scores = {k.removeprefix("cityscapes_"): v for k, v in row.extra.items() if isinstance(v, float)}
    if scores:
        print("Cityscapes official evaluation (cityscapesscripts): "
              + ", ".join(f"{k} {100 * v:.2f}" for k, v in scores.items()))  # fmt: skip
    print(summary_table([row]))
    print(f"Run dir: {cfg.paths.output_dir}")


def main() -> int:
    """Entry point of ``edaformer-eval`` (and ``eval.py``)."""
    return run_command("eval", _task)
