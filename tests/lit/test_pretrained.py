"""``model.pretrained``: ImageNet EFT weights into the segmentor's encoder, strictly, with a report."""

from __future__ import annotations

import pytest
import torch

from edaformer.checkpoints import load_encoder_weights
from edaformer.models import create_model, to_official_state_dict


@pytest.mark.slow
def test_pretrained_from_authors_layout(tmp_path):
    seg = create_model("edaformer_t", num_classes=150)
    official = {
        k[len("backbone.") :]: v for k, v in to_official_state_dict(seg).items() if k.startswith("backbone.")
    }
    official["head.weight"], official["head.bias"] = (
        torch.randn(1000, 256),
        torch.randn(1000),
    )  # ImageNet classifier
    path = tmp_path / "eft_t_imagenet.pth"
    torch.save({"state_dict": official}, path)
    target = create_model("edaformer_t", num_classes=6)
    report = load_encoder_weights(target.encoder, path)
    assert "dropped 2 unused: head.bias, head.weight" in report  # the ImageNet classifier head
    for key, value in seg.encoder.state_dict().items():
        torch.testing.assert_close(target.encoder.state_dict()[key], value)


@pytest.mark.slow
def test_pretrained_from_our_classification_checkpoint(tmp_path):
    cls = create_model("eft_t", num_classes=10)
    path = tmp_path / "eft.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in cls.state_dict().items()}}, path)
    target = create_model("edaformer_t", num_classes=6)
    assert "Lightning classification checkpoint" in load_encoder_weights(target.encoder, path)
    torch.testing.assert_close(target.encoder.state_dict(), cls.encoder.state_dict())


@pytest.mark.slow
def test_pretrained_mismatch_and_missing_file(tmp_path):
    b = create_model("eft_b", num_classes=10)
    path = tmp_path / "b.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in b.state_dict().items()}}, path)
    with pytest.raises(RuntimeError):
        load_encoder_weights(create_model("edaformer_t", num_classes=6).encoder, path)
    with pytest.raises(FileNotFoundError, match="pretrained weights not found"):
        load_encoder_weights(create_model("edaformer_t", num_classes=6).encoder, tmp_path / "nope.pth")
