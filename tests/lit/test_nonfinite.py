"""Non-finite values: the guard stops or skips a step, checkpoints never hold NaN, NaN logits are never scored;
resume reads checkpoints with weights_only=True whatever the environment says."""

from __future__ import annotations

import os

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from edaformer.lit import AtomicCheckpointIO, NonFiniteError, NonFiniteGuard
from edaformer.lit.nonfinite import require_finite


class Points(Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {"image": torch.randn(2, generator=g), "path": f"/data/img_{i:02d}.jpg"}


class Toy(L.LightningModule):
    """A linear model whose loss (or gradient) turns NaN at the given steps."""

    def __init__(self, nan_loss_at=(), nan_grad_at=()) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 1)
        self.nan_loss_at, self.nan_grad_at = set(nan_loss_at), set(nan_grad_at)

    def training_step(self, batch, batch_idx):
        weight = self.layer.weight
        if self.global_step in self.nan_grad_at:
            weight = weight + 0.0
            weight.register_hook(lambda g: g * float("nan"))
        loss = (batch["image"] @ weight.T + self.layer.bias).pow(2).mean()
        return loss * float("nan") if self.global_step in self.nan_loss_at else loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return DataLoader(Points(), batch_size=4, collate_fn=_collate)


def _collate(items):
    return {"image": torch.stack([i["image"] for i in items]), "path": [i["path"] for i in items]}


class Weights(L.Callback):
    """The weights at the start of each step."""

    def __init__(self) -> None:
        self.at: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.at.append(pl_module.layer.weight.detach().clone())


def fit(module: Toy, guard: NonFiniteGuard, steps: int = 4, weights: Weights | None = None) -> Weights:
    weights = weights or Weights()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[guard, weights],
    )
    trainer.fit(module)
    return weights


def test_stop_names_step_batch_and_images_before_the_weights_change():
    weights, module = Weights(), Toy(nan_loss_at={2})
    with pytest.raises(NonFiniteError) as err:
        fit(module, NonFiniteGuard(), weights=weights)
    message = str(err.value)
    assert "non-finite loss at step 3 (epoch 0, batch 2; images img_08.jpg, img_09.jpg" in message
    assert torch.isfinite(module.layer.weight).all()
    assert torch.equal(module.layer.weight, weights.at[2])  # the NaN step changed nothing
    assert NonFiniteError.exit_status == 1


def test_stop_on_non_finite_gradients_with_a_finite_loss():
    with pytest.raises(NonFiniteError, match=r"non-finite gradients \(norm inf/NaN\) at step 2"):
        fit(Toy(nan_grad_at={1}), NonFiniteGuard())


def test_skip_leaves_weights_and_moments_untouched_and_counts():
    guard = NonFiniteGuard(action="skip")
    module = Toy(nan_grad_at={1})
    weights = fit(module, guard)
    assert guard.skipped == 1
    assert torch.equal(weights.at[1], weights.at[2])  # step 2 (index 1) skipped
    assert not torch.equal(weights.at[0], weights.at[1]) and not torch.equal(weights.at[2], weights.at[3])
    assert torch.isfinite(module.layer.weight).all()
    state = module.trainer.optimizers[0].state[module.layer.weight]
    assert int(state["step"]) == 3  # AdamW skipped the parameter: its moments did not see the NaN


def test_skip_stops_after_too_many_in_a_row():
    with pytest.raises(NonFiniteError, match=r"\(3 in a row\)"):
        fit(Toy(nan_loss_at={1, 2, 3}), NonFiniteGuard(action="skip", max_consecutive_skips=3), steps=5)


def test_guard_arguments_are_checked():
    with pytest.raises(ValueError, match="action='halt'"):
        NonFiniteGuard(action="halt")
    with pytest.raises(ValueError, match="max_consecutive_skips=0"):
        NonFiniteGuard(max_consecutive_skips=0)


def test_nan_logits_are_never_scored():
    scores = torch.zeros(3, 4, 5, 5)
    require_finite(scores, "validation", 7)
    scores[1, 0, 2, 2] = float("nan")
    with pytest.raises(
        NonFiniteError, match=r"validation at step 7: .* NaN/inf for 1 of 3 image\(s\); images b.png"
    ):
        require_finite(scores, "validation", 7, ["/x/a.png", "/x/b.png", "/x/c.png"])


def test_checkpoint_with_non_finite_weights_is_never_written(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    good = {"state_dict": {"net.w": torch.ones(3)}, "global_step": 4}
    io.save_checkpoint(good, path)
    bad = {
        "state_dict": {"net.w": torch.tensor([1.0, float("nan"), 2.0]), "net.n": torch.tensor(3)},
        "global_step": 8,
    }
    with pytest.raises(
        NonFiniteError, match=r"refusing to write .*last.ckpt: 1 of 2 .* \(step 8, e.g. net.w\)"
    ):
        io.save_checkpoint(bad, path)
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["net.w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no temporary file left


class CreatesAFile:
    """Unpickling this runs code: it creates the file it names."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_resume_never_unpickles_code_even_when_the_environment_asks(tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    crafted = tmp_path / "crafted.ckpt"
    torch.save(
        {"state_dict": {}, "pytorch-lightning_version": "2.6.6", "x": CreatesAFile(str(marker))}, crafted
    )
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(
        ValueError, match=r"needs code to unpickle, refused by torch.load\(weights_only=True\)"
    ):
        AtomicCheckpointIO().load_checkpoint(crafted, weights_only=False)
    assert not marker.exists()
    # the same file loaded the unsafe way does run code: the test above could fail
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        torch.load(crafted)
    assert marker.exists()


def test_resume_reads_real_checkpoints_with_weights_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    io = AtomicCheckpointIO()
    checkpoint = {"state_dict": {"net.w": torch.ones(2)}, "global_step": 3, "hyper_parameters": {"lr": 0.1}}
    io.save_checkpoint(checkpoint, tmp_path / "last.ckpt")
    assert io.load_checkpoint(tmp_path / "last.ckpt")["global_step"] == 3
    assert os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"
