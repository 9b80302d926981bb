"""The model summary at the start of training: Lightning's layer table with the network's GFLOPs in the paper's
convention, where Lightning's own FLOPs column and total read 0 (it counts only with an example input)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelSummary
from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table

from ..evaluation.acceleration import unwrap
from ..flops import count_flops

__all__ = ["ModelSummaryWithGFLOPs"]

log = logging.getLogger("lightning.pytorch.callbacks.model_summary")  # where Lightning's summary goes


class ModelSummaryWithGFLOPs(ModelSummary):
    """Lightning's :class:`~lightning.pytorch.callbacks.ModelSummary` without its FLOPs column and total; the
    module's ``net`` counted at ``flops_size`` ``(H, W)`` by :func:`~edaformer.flops.count_flops` (multiply-
    accumulates ×1e-9) instead, or no FLOPs line when the module has no ``net``. ``enabled=false``: no summary
    (``trainer.enable_model_summary``)."""

    def __init__(self, flops_size: Sequence[int], enabled: bool = True, max_depth: int = 1) -> None:
        super().__init__(max_depth=max_depth if enabled else 0)
        self.flops_size = (int(flops_size[0]), int(flops_size[1]))
        self.gflops: float | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        net = getattr(pl_module, "net", None)
        if self._max_depth and trainer.is_global_zero and net is not None:
            self.gflops = count_flops(unwrap(net), (3, *self.flops_size))
        super().on_fit_start(trainer, pl_module)

    def summarize(
        self,
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        columns = [column for column in summary_data if column[0] != "FLOPs"]
        table = _format_summary_table(
            total_parameters, trainable_parameters, model_size, total_training_modes, total_flops, *columns
        )
        table = table.rsplit("\n", 1)[0]  # Lightning's "Total Flops" line
        if self.gflops is not None:
            height, width = self.flops_size
            table += f"\n{self.gflops:<10.2f}GFLOPs at {height}x{width} (multiply-accumulates, the paper's convention)"
        log.info("\n" + table)
