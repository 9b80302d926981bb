"""Every checkpoint format we write records the training ratios (``train_isr``) and every loader restores them;
``load_weights`` (fine-tuning) starts a model from another checkpoint's weights."""

from __future__ import annotations

import pytest
import torch

from edaformer.checkpoints import CheckpointError, load_model, load_weights, save_model
from edaformer.lit import SegmentationModule
from edaformer.models import ISR_PRESETS, create_model, to_official_state_dict

AGGRESSIVE = ISR_PRESETS["aggressive"]


def lightning_checkpoint(module: SegmentationModule) -> dict:
    """What ``Trainer.save_checkpoint`` stores of a segmentation run: the module's ``net.*`` weights and its
    hyper-parameters."""
    hparams = {key: module.hparams[key] for key in ("model_name", "num_classes", "train_isr")}
    return {"state_dict": module.state_dict(), "hyper_parameters": hparams}


@pytest.fixture(scope="module")
def aggressive_net():
    torch.manual_seed(0)
    net = create_model("edaformer_mini", num_classes=5, train_isr="aggressive")
    net.set_isr("paper")  # inference setting at save time; a different thing from the training ratios
    return net


def test_ours_records_and_restores_train_isr(aggressive_net, tmp_path):
    save_model(aggressive_net, tmp_path / "ours.pt", "edaformer_mini")
    payload = torch.load(tmp_path / "ours.pt", weights_only=True)
    assert payload["train_isr"] == "16,8,4,2-2,4,8" and payload["isr"] == "16,8,2,1-2,4,8"
    model, info = load_model(tmp_path / "ours.pt")
    assert model.train_isr == AGGRESSIVE and info.train_isr == "16,8,4,2-2,4,8"
    assert str(model.isr) == "16,8,2,1-2,4,8"
    assert model.set_isr("own") == AGGRESSIVE


def test_lightning_checkpoint_records_and_restores_train_isr(aggressive_net, tmp_path):
    module = SegmentationModule(aggressive_net, None, None, isr="own")
    assert module.hparams.train_isr == "16,8,4,2-2,4,8"
    assert module.val_isr == AGGRESSIVE  # validation at the model's own ratios
    torch.save(lightning_checkpoint(module), tmp_path / "run.ckpt")
    model, info = load_model(tmp_path / "run.ckpt")
    assert (info.kind, model.train_isr, info.train_isr) == ("lightning", AGGRESSIVE, "16,8,4,2-2,4,8")
    for key, value in aggressive_net.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


@pytest.mark.slow
def test_files_without_the_record_and_official_files_are_standard(tmp_path):
    net = create_model("edaformer_t", num_classes=150)  # the authors released T and B
    torch.save({"state_dict": to_official_state_dict(net)}, tmp_path / "official.pth")
    model, info = load_model(tmp_path / "official.pth")
    assert (info.kind, info.train_isr, model.train_isr) == ("official", None, ISR_PRESETS["train"])
    torch.save({"format": "edaformer", "model_name": "edaformer_t", "num_classes": 150,
                "state_dict": net.state_dict()}, tmp_path / "old.pt")  # fmt: skip
    assert load_model(tmp_path / "old.pt")[0].train_isr == ISR_PRESETS["train"]


@pytest.mark.slow
def test_module_takes_one_start_of_the_weights(aggressive_net):
    with pytest.raises(ValueError, match="give one of them"):
        SegmentationModule(aggressive_net, None, None, pretrained="a.pth", init_from="b.ckpt")


def test_load_weights_starts_from_any_kind_whatever_its_ratios(tmp_path):
    """Fine-tuning at other ratios: weights of a standard model into one built at the aggressive ratios."""
    torch.manual_seed(1)
    standard = create_model("edaformer_mini", num_classes=5)
    save_model(standard, tmp_path / "standard.pt", "edaformer_mini")
    module = SegmentationModule(standard, None, None)
    torch.save(lightning_checkpoint(module), tmp_path / "standard.ckpt")
    for path in (tmp_path / "standard.pt", tmp_path / "standard.ckpt"):
        target = create_model("edaformer_mini", num_classes=5, train_isr="aggressive")
        report = load_weights(target, path, "edaformer_mini")
        assert "trained at 8,4,2,1-1,2,4" in report
        assert all(torch.equal(target.state_dict()[k], v) for k, v in standard.state_dict().items())
        assert target.train_isr == AGGRESSIVE  # the ratios stay the new model's

    with pytest.raises(CheckpointError, match="edaformer_t"):
        load_weights(target, tmp_path / "standard.pt", "edaformer_t")
