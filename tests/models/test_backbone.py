"""EFT as a backbone: ``features_only`` maps with timm's ``feature_info``, ISR on them, pretrained encoder weights,
the FPN example of docs/backbone.md (timm's registry: test_timm.py)."""

from __future__ import annotations

import re

import pytest
import torch

from edaformer.checkpoints import load_encoder_weights, save_model
from edaformer.flops import count_flops
from edaformer.models import EFTFeatures, create_model, eft_encoder, isr_applied
from edaformer.models.eft import EFT_VARIANTS
from tests.conftest import REPO


@torch.no_grad()
def test_features_only_maps_and_feature_info():
    backbone = create_model("eft_mini", features_only=True, out_indices=(0, 1, 2, 3)).eval()
    assert isinstance(backbone, EFTFeatures)
    maps = backbone(torch.randn(2, 3, 100, 64))
    assert [tuple(m.shape) for m in maps] == [(2, 16, 25, 16), (2, 32, 13, 8), (2, 64, 7, 4), (2, 128, 4, 2)]
    info = backbone.feature_info
    assert info == [
        {"num_chs": 16, "reduction": 4, "module": "stages.0"},
        {"num_chs": 32, "reduction": 8, "module": "stages.1"},
        {"num_chs": 64, "reduction": 16, "module": "stages.2"},
        {"num_chs": 128, "reduction": 32, "module": "stages.3"},
    ]
    assert (
        info.channels() == [16, 32, 64, 128] and info.reduction(2) == 16 and info.module_name(0) == "stages.0"
    )
    # a subset, in the requested order, from the same weights as the full encoder
    subset = create_model("eft_mini", features_only=True, out_indices=(3, 1)).eval()
    assert subset.feature_info.channels() == [128, 32]
    full = eft_encoder("mini").eval()
    full.load_state_dict(subset.state_dict())
    x = torch.randn(1, 3, 64, 64)
    ref = full(x)
    assert [torch.equal(a, b) for a, b in zip(subset(x), [ref[3], ref[1]])] == [True, True]
    with pytest.raises(ValueError, match="out_indices must be distinct stage indices in 0..3"):
        create_model("eft_mini", features_only=True, out_indices=(0, 4))


@torch.no_grad()
def test_isr_works_on_the_backbone():
    backbone = create_model("eft_mini", features_only=True, out_indices=(1, 2, 3)).eval()
    x = torch.randn(1, 3, 128, 128)
    train = backbone(x)
    train_flops = count_flops(backbone, (3, 128, 128))
    with isr_applied(backbone, "paper") as setting:  # a full setting: the backbone takes its encoder part
        assert str(setting) == "16,8,2,1"
        paper = backbone(x)
        assert count_flops(backbone, (3, 128, 128)) < train_flops
    assert [m.shape for m in paper] == [m.shape for m in train]
    assert not torch.allclose(paper[0], train[0])  # stage 2 pooled by 8 instead of 4
    assert str(backbone.isr) == "8,4,2,1"  # restored


def test_pretrained_encoder_weights_load_into_the_backbone(tmp_path):
    classifier = create_model("eft_mini", num_classes=10)
    save_model(classifier, tmp_path / "eft_mini.pt", "eft_mini")
    backbone = create_model("eft_mini", features_only=True, out_indices=(2, 3))
    report = load_encoder_weights(backbone, tmp_path / "eft_mini.pt")
    assert report.startswith(f"loaded {len(backbone.state_dict())} encoder tensors")
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, classifier.encoder.state_dict()[key])


@pytest.mark.slow
def test_fpn_example_of_the_docs_trains(capsys):
    """Runs the Python block of docs/backbone.md on EFT-Mini (the document uses EFT-T; only the widths differ):
    shapes, a falling loss, ISR on the backbone; the feature shapes the document prints are EFT-T's."""
    text = (REPO / "docs" / "backbone.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert 'create_model("eft_t", features_only=True' in code
    namespace: dict = {"__name__": "docs_backbone"}
    exec(compile(code.replace('"eft_t"', '"eft_mini"'), "docs/backbone.md", "exec"), namespace)
    sizes = [(16, 24), (8, 12), (4, 6), (2, 3)]  # 64×96 at strides 4, 8, 16, 32
    dims = {v: EFT_VARIANTS[v]["dims"] for v in ("t", "mini")}
    assert namespace["feature_shapes"] == [(2, c, *hw) for c, hw in zip(dims["mini"], sizes)]
    losses = namespace["losses"]
    assert len(losses) == 8 and losses[-1] < 0.9 * losses[0]
    out = capsys.readouterr().out
    assert (
        "logits under ISR paper: (2, 3, 64, 96)" in out and f"loss {losses[0]:.3f} → {losses[-1]:.3f}" in out
    )
    printed = text.split("Output")[1]
    assert f"features: {[(2, c, *hw) for c, hw in zip(dims['t'], sizes)]}" in printed
