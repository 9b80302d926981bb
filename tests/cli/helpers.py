"""Arguments of seconds-long runs of EDAFormer-Mini on tiny data, and the few commands run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MINI = ["model=edaformer_mini", "model.pretrained=null"]  # not in the paper: trains in seconds on a CPU
QUIET = [
    "~callbacks.progress_bar",
    "trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
]


def tiny(data_dir: Path, run_dir: Path, steps: int = 4) -> list[str]:
    """Overrides for a seconds-long run: EDAFormer-Mini on 16 demo images of ~140x160, 64x64 crops, batch 4,
    validation images resized to a short side of 64."""
    return [
        *MINI,
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={run_dir}",
        "data.num_train=16",
        "data.num_val=4",
        "data.test_scale=[96,64]",
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
        "logger=csv",
    ]


def tiny_eval(data_dir: Path) -> list[str]:
    """Overrides for a seconds-long evaluation on the tiny demo data of :func:`tiny` (4 validation images)."""
    return [
        f"paths.data_dir={data_dir}",
        "data.num_train=16",
        "data.num_val=4",
        "data.test_scale=[96,64]",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "trainer.accelerator=cpu",
        "flops_size=[64,64]",
    ]


def run(script: str, args: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """``python <script> *args`` in a process of its own (for what only a process boundary shows)."""
    environ = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **env}
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tiny_ade20k(root: Path, num_train: int = 16, num_val: int = 1) -> Path:
    """``root/ADEChallengeData2016`` with ``num_train`` / ``num_val`` random 48x64 pairs (raw labels 0..150)."""
    rng = np.random.default_rng(0)
    base = root / "ADEChallengeData2016"
    for split, prefix, count in (("training", "train", num_train), ("validation", "val", num_val)):
        for i in range(count):
            name = f"ADE_{prefix}_{i + 1:08d}"
            for kind, array in (
                ("images", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)),
                ("annotations", rng.integers(0, 151, (48, 64), dtype=np.uint8)),
            ):
                path = base / kind / split / f"{name}.{'jpg' if kind == 'images' else 'png'}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path)
    return root


def tiny_paper_recipe(ade_root: Path, run_dir: Path, *choices: str, steps: int = 1) -> list[str]:
    """A paper recipe (``choices``: ``model=edaformer_t data=ade20k`` or ``experiment=...``) on tiny ADE20K data,
    recipe kept (batch 4 per device, global batch 16) but 64x64 crops, tiny test images and ``steps`` optimizer
    steps, validated once at the end."""
    return [
        *choices,
        f"data.root={ade_root}",
        f"hydra.run.dir={run_dir}",
        "data.crop_size=[64,64]",
        "data.test_scale=[64,48]",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "trainer.devices=1",
        "trainer.accelerator=cpu",
        f"trainer.max_steps={steps}",
        f"trainer.val_check_interval={steps}",
        "trainer.log_every_n_steps=1",
        "model.scheduler.warmup_steps=1",
        "flops_size=[64,64]",
        "logger=csv",
        *QUIET,
    ]


def one_error_line(err: str) -> str:
    """The one line a user's mistake prints (``error: ...``); fails on a traceback or more lines."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0], err[-3000:]
    return errors[0]


def checkpoint_steps(folder: Path) -> dict[str, int]:
    """The Lightning checkpoints of ``folder`` by name, with the global step each was saved at."""
    return {p.name: torch.load(p, weights_only=True)["global_step"] for p in sorted(folder.glob("*.ckpt"))}
