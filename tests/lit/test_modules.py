"""LightningModules: classification smoke train, ISR applied only for evaluation, atomic checkpoints, Mixup."""

from __future__ import annotations

import math
from functools import partial

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from edaformer.lit import (
    AtomicCheckpointIO,
    ClassificationModule,
    MixupCutmix,
    SegmentationModule,
    plan_global_batch,
)
from edaformer.models import ISR_PRESETS, create_model
from edaformer.optim import cosine_warmup_schedule, poly_warmup_schedule

ADAMW = partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.01)


class Blobs(Dataset):
    """Tiny synthetic data: seg masks (left/right halves) or class labels."""

    def __init__(self, n: int, seg: bool) -> None:
        self.n, self.seg = n, seg

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        image = torch.randn(3, 64, 64, generator=g)
        if self.seg:
            mask = torch.zeros(64, 64, dtype=torch.long)
            mask[:, 32:] = 1
            mask[:4] = 255
            return {"image": image, "mask": mask}
        return {"image": image, "label": torch.tensor(i % 3)}


def trainer(**kw) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kw,
    )


@pytest.mark.slow
def test_classification_smoke_train_and_eval():
    net = create_model("eft_t", num_classes=3)
    module = ClassificationModule(
        net,
        ADAMW,
        partial(cosine_warmup_schedule, total_steps=3, warmup_steps=1),
        mixup={"mixup_alpha": 0.8, "cutmix_alpha": 1.0},
        isr="paper",
    )
    t = trainer(max_steps=3, limit_val_batches=1)
    t.fit(module, DataLoader(Blobs(12, False), batch_size=4), DataLoader(Blobs(4, False), batch_size=4))
    assert 0.0 <= t.callback_metrics["val/top1"] <= 1.0 and t.callback_metrics["val/top5"] == 1.0  # 3 classes
    assert net.isr.encoder == (8, 4, 2, 1)  # paper ISR only during validation
    assert module.hparams.isr == "16,8,2,1"


@pytest.mark.slow
def test_segmentation_eval_isr_is_temporary_and_metrics_are_logged():
    net = create_model("edaformer_t", num_classes=2, embed_dim=32)
    module = SegmentationModule(
        net,
        ADAMW,
        partial(poly_warmup_schedule, total_steps=2, warmup_steps=1),
        class_names=["left", "right"],
        isr=[[16, 8, 2, 1], [2, 4, 8]],
        inference={"mode": "slide", "crop_size": [32, 32], "stride": [32, 32]},
    )
    seen = []
    module.validation_step = (lambda f: lambda *a: (seen.append(net.isr), f(*a))[1])(module.validation_step)
    t = trainer(max_steps=2, val_check_interval=2, check_val_every_n_epoch=None)
    t.fit(module, DataLoader(Blobs(4, True), batch_size=2), DataLoader(Blobs(2, True), batch_size=1))
    assert seen and all(s == ISR_PRESETS["paper"] for s in seen)
    assert net.isr == ISR_PRESETS["train"]
    assert set(module.metrics.class_names) == {"left", "right"}
    assert "val/IoU/left" in t.callback_metrics and 0 <= t.callback_metrics["val/mIoU"] <= 1
    hp = dict(module.hparams)
    assert hp["model_name"] == "edaformer_t" and hp["isr"] == "16,8,2,1-2,4,8"
    assert hp["inference"]["mode"] == "slide"


def with_classes(net: torch.nn.Module, num_classes: int) -> torch.nn.Module:
    """A stand-in network that says how many classes it predicts (the factories' models do)."""
    net.num_classes = num_classes
    return net


def test_the_module_records_what_the_network_is():
    net = create_model("edaformer_mini", num_classes=4, train_isr="aggressive")
    hp = SegmentationModule(net, ADAMW, None, global_batch=16).hparams
    assert (hp.model_name, hp.num_classes, hp.train_isr, hp.global_batch) == (
        "edaformer_mini",
        4,
        "16,8,4,2-2,4,8",
        16,
    )


def test_atomic_checkpoint_survives_a_failed_save(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)

    def crash(obj, f, *a, **k):
        f.write(b"partial garbage")
        raise KeyboardInterrupt  # killed half-way through writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}


def test_mixup_cutmix_targets():
    torch.manual_seed(0)
    mix = MixupCutmix(num_classes=4, label_smoothing=0.1)
    images, labels = torch.randn(6, 3, 16, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    smooth = mix.smooth_one_hot(labels)
    assert smooth[0].tolist() == pytest.approx([0.925, 0.025, 0.025, 0.025])
    for _ in range(10):
        mixed, targets = mix(images, labels)
        assert mixed.shape == images.shape
        torch.testing.assert_close(targets.sum(1), torch.ones(6))
    off = MixupCutmix(4, mixup_alpha=0.0, cutmix_alpha=0.0)
    same, t = off(images, labels)
    assert torch.equal(same, images) and torch.equal(t, off.smooth_one_hot(labels))


@pytest.mark.parametrize("avg_non_ignore", [False, True])
def test_segmentation_loss_normalisation_by_hand(avg_non_ignore):
    """A padded crop (ignored right column): the authors divide by all pixels, ``avg_non_ignore`` by labelled."""
    logits = torch.tensor(
        [
            [
                [[2.0, 0.0, 1.0], [0.5, 0.5, 3.0]],
                [[0.0, 1.0, 1.0], [1.5, 0.0, 3.0]],
                [[1.0, 1.0, 1.0], [0.0, 2.0, 3.0]],
            ]
        ]
    ).repeat(2, 1, 1, 1)  # (B=2, K=3, H=2, W=3)
    masks = torch.tensor([[[0, 1, 255], [2, 2, 255]], [[255, 255, 255], [0, 255, 255]]])
    module = SegmentationModule(
        with_classes(torch.nn.Identity(), 3), ADAMW, None, avg_non_ignore=avg_non_ignore
    )
    total, labelled = 0.0, 0
    for b in range(2):
        for y in range(2):
            for x in range(3):
                label = int(masks[b, y, x])
                if label == 255:
                    continue
                scores = [float(logits[b, k, y, x]) for k in range(3)]
                total += math.log(sum(math.exp(s) for s in scores)) - scores[label]
                labelled += 1
    expected = total / (labelled if avg_non_ignore else masks.numel())  # 5 labelled of 12 pixels
    assert module.loss(logits, masks).item() == pytest.approx(expected, rel=1e-6)
    assert module.hparams.avg_non_ignore is avg_non_ignore
    # every pixel ignored: 0 under both rules (no NaN)
    assert module.loss(logits, torch.full_like(masks, 255)).item() == 0.0


def test_tta_needs_the_original_image():
    """Multi-scale testing on an already-resized image would give the wrong per-ratio sizes: a clear error."""
    module = SegmentationModule(
        with_classes(torch.nn.Conv2d(3, 2, 1), 2),
        ADAMW,
        None,
        inference={"scales": [0.75, 1.0], "flip": True},
    )
    batch = {"image": torch.randn(1, 3, 64, 96), "mask": torch.zeros(1, 50, 70, dtype=torch.long)}
    with pytest.raises(ValueError, match="build the DataModule with tta=True"):
        module.validation_step(batch, 0)
    batch["image"] = torch.randint(
        0, 256, (1, 3, 50, 70), dtype=torch.uint8
    )  # the original: resized per ratio
    assert module.validation_step(batch, 0)["pred"].shape == (1, 50, 70)


def test_classification_lr_follows_the_global_batch():
    """lr = 5e-4 × global batch / 512; e.g. 128 per device × 2 nodes × 4 GPUs × 2 accumulated = 2048."""
    net = with_classes(torch.nn.Linear(4, 3), 3)
    adamw = partial(torch.optim.AdamW, lr=5e-4)
    module = ClassificationModule(net, adamw, None, lr_reference_batch=512, global_batch=2048)
    assert module.configure_optimizers()["optimizer"].param_groups[0]["lr"] == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="needs global_batch"):
        ClassificationModule(net, adamw, None, lr_reference_batch=512).configure_optimizers()


@pytest.mark.slow
def test_classification_lr_scaling_through_a_real_trainer():
    net = create_model("eft_mini", num_classes=3)
    plan = plan_global_batch(8, 4, 1, 1)  # the recipe's global batch, reached by accumulating 2 batches of 4
    module = ClassificationModule(
        net, partial(torch.optim.AdamW, lr=5e-4), None, lr_reference_batch=512, global_batch=plan.size
    )
    t = trainer(max_steps=1, limit_val_batches=0, accumulate_grad_batches=plan.accumulation)
    t.fit(module, DataLoader(Blobs(8, False), batch_size=4))
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(5e-4 * 8 / 512)
