"""A minutes-long training on the built-in demo data, for notebooks and figures (not a recipe to copy).

It composes the same config as ``edaformer-train`` (``conf/train.yaml``, ``data=demo``) with a few overrides that
shrink the run, and calls the same :func:`~edaformer.workflows.train.train`, so what it produces is an ordinary
run dir: ``checkpoints/last.ckpt`` and ``isr_results.json`` (one row per ISR setting evaluated at the end).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..config import compose
from .train import TrainResult, train

__all__ = ["quick_demo_training"]


def quick_demo_training(
    output_dir: str | os.PathLike,
    max_steps: int = 20,
    crop: int = 64,
    batch_size: int = 4,
    num_train: int = 16,
    num_val: int = 4,
    isr: Sequence[str] = ("train", "dec2x", "paper", "aggressive"),
    data_dir: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
) -> TrainResult:
    """Train EDAFormer-T on the demo data for ``max_steps`` iterations, then evaluate under each ``isr`` setting.

    ``data_dir`` defaults to ``<output_dir>/data``; ``overrides`` are extra Hydra overrides
    (``"model=edaformer_mini"``, ...). The result's ``rows`` are the final evaluation, ``ckpt_path`` the best
    checkpoint.
    """
    out = Path(output_dir).resolve()
    data = Path(data_dir).resolve() if data_dir is not None else out / "data"
    cfg = compose(
        "train",
        [
            f"paths.root_dir={out}",
            f"paths.output_dir={out}",
            f"paths.data_dir={data}",
            "logger=csv",
            "~callbacks.progress_bar",
            "~callbacks.samples",
            "trainer.enable_progress_bar=false",
            "+trainer.enable_model_summary=false",
            f"trainer.max_steps={max_steps}",
            f"trainer.val_check_interval={max_steps}",
            f"trainer.log_every_n_steps={max(1, max_steps // 4)}",
            f"model.scheduler.warmup_steps={max(1, max_steps // 10)}",
            f"data.num_train={num_train}",
            f"data.num_val={num_val}",
            f"data.batch_size={batch_size}",
            f"data.crop_size=[{crop},{crop}]",
            "data.num_workers=0",
            "data.persistent_workers=false",
            f"final_eval.isr=[{','.join(isr)}]",
            *overrides,
        ],
    )
    return train(cfg)
