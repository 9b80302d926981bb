"""The recipe's global batch on any number of devices: the accumulation, its one-line errors, the validation
interval in optimizer steps and whole optimizer steps at epoch ends (through a real Trainer)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from edaformer.lit import (
    GlobalBatch,
    GlobalBatchError,
    WholeGlobalBatches,
    count_devices,
    plan_global_batch,
    trainer_arguments,
)


@pytest.mark.parametrize(
    ("global_batch", "per_device", "devices", "nodes", "line"),
    [
        (16, 4, 1, 1, "global batch 16 = 4 per device x 1 device x 1 node x 4 accumulation"),
        (16, 4, 4, 1, "global batch 16 = 4 per device x 4 devices x 1 node x 1 accumulation"),
        (8, 2, 2, 1, "global batch 8 = 2 per device x 2 devices x 1 node x 2 accumulation"),
        (4, 1, 1, 1, "global batch 4 = 1 per device x 1 device x 1 node x 4 accumulation"),
        (1024, 128, 2, 2, "global batch 1024 = 128 per device x 2 devices x 2 nodes x 2 accumulation"),
        (None, 8, 2, 1, "global batch 16 = 8 per device x 2 devices x 1 node x 1 accumulation"),
    ],
)
def test_plan_reaches_the_global_batch(global_batch, per_device, devices, nodes, line):
    plan = plan_global_batch(global_batch, per_device, devices, nodes)
    assert str(plan) == line
    assert plan.size == (global_batch or per_device * devices * nodes)


def test_plan_errors_name_the_numbers():
    with pytest.raises(ValueError) as err:
        plan_global_batch(16, 4, 3, 1)
    assert str(err.value) == (
        "global_batch=16 cannot be reached with 4 per device x 3 devices x 1 node = 12 per pass: it is not a "
        "multiple; change data.batch_size or trainer.devices, or set global_batch=null"
    )
    with pytest.raises(ValueError, match="4 per device x 8 devices x 1 node = 32 per pass"):
        plan_global_batch(16, 4, 8, 1)  # more per pass than the global batch
    with pytest.raises(ValueError, match=r"accumulate_grad_batches=2 but global_batch=16 .* needs 4"):
        plan_global_batch(16, 4, 1, 1, accumulation=2)
    assert plan_global_batch(16, 4, 1, 1, accumulation=4).accumulation == 4  # a matching one is fine
    assert plan_global_batch(None, 4, 1, 1, accumulation=3) == GlobalBatch(4, 1, 1, 3)
    with pytest.raises(ValueError, match="positive integer"):
        plan_global_batch(0, 4, 1, 1)


class Recorder(L.LightningModule):
    """A linear model that records, per training batch, the optimizer steps taken so far, and the step of each
    validation; its scheduler counts its own steps."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.steps_at_batch: list[int] = []
        self.validated_at: list[int] = []

    def training_step(self, batch, batch_idx):
        self.steps_at_batch.append(self.global_step)
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def on_validation_epoch_end(self) -> None:
        self.validated_at.append(self.global_step)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (1 + step))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def loader(n: int) -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(n, 2)), batch_size=1)


@pytest.mark.parametrize("devices", [1, "auto"])
def test_accumulation_schedule_and_validation_count_optimizer_steps(devices, tmp_path):
    """6 batches an epoch, global batch 4 of 1 per device: every step takes 4 batches (the epoch's last 2 are left
    out rather than stepped alone), the schedule steps once per optimizer step, validation every 2 steps."""
    module = Recorder()
    plan = plan_global_batch(4, 1, count_devices("cpu", devices), 1)  # before the trainer, from its arguments
    assert str(plan) == "global batch 4 = 1 per device x 1 device x 1 node x 4 accumulation"
    arguments = trainer_arguments(plan, 2)  # validation every 2 optimizer steps, as the recipes state it
    assert arguments == {"accumulate_grad_batches": 4, "val_check_interval": 8}  # in batches
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        max_steps=3,
        max_epochs=-1,
        **arguments,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        callbacks=[WholeGlobalBatches()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    assert trainer.num_devices == count_devices("cpu", devices)  # the count Lightning resolved
    trainer.fit(module, train_dataloaders=loader(6), val_dataloaders=loader(1))
    assert module.steps_at_batch == [0] * 4 + [1] * 4 + [2] * 4
    assert trainer.global_step == 3
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 3  # one scheduler step per optimizer step
    assert module.validated_at == [2]


def test_without_accumulation_nothing_changes(tmp_path):
    module = Recorder()
    plan = plan_global_batch(None, 1, 1, 1)
    assert trainer_arguments(plan, 0.5) == {"accumulate_grad_batches": 1, "val_check_interval": 0.5}
    trainer = L.Trainer(accelerator="cpu", max_steps=7, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[WholeGlobalBatches()], default_root_dir=tmp_path,
                        accumulate_grad_batches=plan.accumulation)  # fmt: skip
    trainer.fit(module, train_dataloaders=loader(6))
    assert module.steps_at_batch == list(range(7))  # 6 batches in the first epoch, none dropped


def test_an_epoch_shorter_than_one_global_batch_is_an_error(tmp_path):
    plan = plan_global_batch(8, 1, 1, 1)
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[WholeGlobalBatches()], default_root_dir=tmp_path,
                        accumulate_grad_batches=plan.accumulation)  # fmt: skip
    with pytest.raises(
        GlobalBatchError, match="an epoch has 6 training batches per device, fewer than the 8"
    ):
        trainer.fit(Recorder(), train_dataloaders=loader(6))


def test_device_count_follows_lightnings_parsing():
    assert count_devices("cpu", 2) == 2 and count_devices("cpu", "auto") == 1
    assert count_devices("auto", 1) == 1
    with pytest.raises(ValueError, match="trainer.accelerator=tpu"):
        count_devices("tpu", 1)
