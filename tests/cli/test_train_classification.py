"""ImageNet pre-training of EFT through train.py: a seconds-long DDP run (2 gloo processes) on a tiny folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from .helpers import run

WNIDS = ("n01440764", "n01443537")


@pytest.mark.slow
def test_eft_t_imagenet_smoke_train_and_eval_under_ddp(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in WNIDS:
            folder = tmp_path / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            for i in range(4):
                pixels = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{wnid}_{i:08d}.JPEG")
    run_dir = tmp_path / "run"
    proc = run(
        "train.py",
        [
            "model=eft_t",
            "data=imagenet",
            f"data.root={tmp_path / 'imagenet'}",
            "data.expected_num_classes=null",
            "model.num_classes=2",
            "data.batch_size=4",
            "data.num_workers=0",
            "data.persistent_workers=false",
            "trainer=ddp_cpu",
            "global_batch=8",  # the recipe's 1024 does not fit 8 images
            "trainer.max_steps=2",
            "trainer.val_check_interval=2",
            "flops_size=[64,64]",
            f"hydra.run.dir={run_dir}",
        ],
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    # 2 gloo processes x 4 images: DeiT's linear rule on the global batch (the sampler shards per process)
    assert "lr 0.0005 x global batch 8 / 512 = 7.8125e-06" in proc.stdout + proc.stderr
    assert "global batch 8 = 4 per device x 2 devices x 1 node x 1 accumulation" in proc.stdout
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    results = json.loads((run_dir / "isr_results.json").read_text())["results"]
    assert [r["setting"] for r in results] == ["train", "paper"]
    assert all(0.0 <= r["top1"] <= 1.0 for r in results)
    assert results[1]["gflops"] < results[0]["gflops"] and results[0]["params"] == results[1]["params"]
