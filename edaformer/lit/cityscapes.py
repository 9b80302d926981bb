"""Write test predictions in the Cityscapes benchmark's format while a checkpoint is evaluated."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L

from ..evaluation.cityscapes import result_name, write_label_ids


class WriteCityscapesLabelIds(L.Callback):
    """During ``trainer.test``: each image's prediction as a label-id PNG named after the image
    (``<city>_<seq>_<frame>_leftImg8bit.png``) in ``output_dir``, as the authors' ``format_results``.

    Reads the module's test-step output ``{"pred": [B, H, W] train ids}`` — predicted at the label's resolution,
    the original image's (2048×1024 for Cityscapes) — and the batch's image ``path`` list.
    """

    def __init__(self, output_dir: str | os.PathLike) -> None:
        self.output_dir = Path(output_dir)
        self.written = 0

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        for pred, path in zip(outputs["pred"].cpu().numpy(), batch["path"], strict=True):
            write_label_ids(pred, self.output_dir / result_name(path))
            self.written += 1
