"""Run train.py / eval.py as users do, on a tiny demo dataset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tiny(data_dir: Path, run_dir: Path, steps: int = 4) -> list[str]:
    """Overrides for a seconds-long run: 16 demo images of ~140x160, 64x64 crops, batch 4."""
    return [
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={run_dir}",
        "data.num_train=16",
        "data.num_val=4",
        "data.crop_size=[64,64]",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.persistent_workers=false",
        f"trainer.max_steps={steps}",
        "trainer.val_check_interval=4",
        "trainer.log_every_n_steps=1",
        "trainer.accelerator=cpu",
        "model.scheduler.warmup_steps=2",
        "flops_size=[64,64]",
    ]


def tiny_eval(data_dir: Path) -> list[str]:
    """Overrides for a seconds-long evaluation on the tiny demo data of :func:`tiny` (4 validation images)."""
    return [
        f"paths.data_dir={data_dir}",
        "data.num_train=16",
        "data.num_val=4",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "trainer.accelerator=cpu",
        "flops_size=[64,64]",
    ]


def run(script: str, args: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
