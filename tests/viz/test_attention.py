from __future__ import annotations

import pytest
import torch

from edaformer.models import ISR_PRESETS
from edaformer.models.efa import EmbeddingFreeAttention
from edaformer.viz import (
    AttentionRecorder,
    efa_layers,
    fit_pca,
    pca_image,
    query_token,
    run_with_attention,
)


def test_layers_cover_every_efa_module_in_order(tiny_model):
    layers = efa_layers(tiny_model)
    efa = [name for name, m in tiny_model.named_modules() if isinstance(m, EmbeddingFreeAttention)]
    assert [la.name for la in layers] == efa and len(efa) == 1 + 1 + 1 + 1 + 3 + 2 + 1  # EDAFormer-Mini
    assert layers[0].name == "encoder.stages.0.blocks.0.attn" and layers[0].level == 1
    assert layers[-1].name == "decode_head.levels.2.blocks.0.attn" and layers[-1].level == "c2"
    assert all(tiny_model.get_submodule(la.name) is la.module for la in layers)


def test_query_token_places_pixels_on_each_grid():
    assert query_token((0, 0), (64, 96), (16, 24)) == (0, 0)
    assert query_token((95.9, 63.9), (64, 96), (16, 24)) == (15, 23)
    assert query_token((50, 10), (64, 96), (2, 3)) == (0, 1)
    with pytest.raises(ValueError, match="outside"):
        query_token((96, 0), (64, 96), (16, 24))


@pytest.mark.parametrize("preset", ["train", "paper"])
def test_recorded_query_attention_matches_the_full_matrix(tiny_model, preset):
    images = torch.randn(1, 3, 64, 96)
    point = (70.0, 20.0)
    with torch.no_grad():
        tiny_model.set_isr(preset)
        try:
            with AttentionRecorder(tiny_model, point, (64, 96)) as one:
                tiny_model(images)
            with AttentionRecorder(tiny_model, None) as full:
                tiny_model(images)
        finally:
            tiny_model.set_isr("train")
    assert len(one.maps) == len(full.maps) == len(efa_layers(tiny_model))
    setting = ISR_PRESETS[preset]
    ratios = {("encoder", i + 1): s for i, s in enumerate(setting.encoder)}
    ratios.update({("decoder", lvl): s for lvl, s in zip(("c4", "c3", "c2"), setting.decoder)})
    for m, f in zip(one.maps, full.maps):
        assert m.pool_ratio == ratios[m.layer.key]
        h, w = m.hw
        assert m.pooled_hw == (max(1, h // m.pool_ratio), max(1, w // m.pool_ratio))
        assert m.probs.shape == (1, m.layer.module.num_heads, *m.pooled_hw)
        torch.testing.assert_close(m.probs.sum((-2, -1)), torch.ones(1, m.probs.shape[1]))
        row, col = m.query
        torch.testing.assert_close(m.probs.flatten(2), f.probs[:, :, row * w + col], rtol=1e-5, atol=1e-6)


def test_hooks_are_removed_and_isr_restored(tiny_model):
    images = torch.randn(1, 3, 64, 64)
    before = tiny_model.isr
    run = run_with_attention(tiny_model, images, (10, 50), isr="aggressive")
    assert tiny_model.isr == before
    assert run.isr == ISR_PRESETS["aggressive"]
    assert all(not la.module._forward_pre_hooks for la in efa_layers(tiny_model))
    assert not tiny_model.decode_head.fuse._forward_hooks
    with torch.no_grad():
        tiny_model.set_isr("aggressive")
        expected_logits = tiny_model(images)
        expected_features = tiny_model.decode_head.forward_features(tiny_model.encoder(images))
        tiny_model.set_isr(before)
    torch.testing.assert_close(run.logits, expected_logits)
    torch.testing.assert_close(run.features, expected_features)
    levels = run.by_level("last")
    assert list(levels) == [
        ("encoder", 1),
        ("encoder", 2),
        ("encoder", 3),
        ("encoder", 4),
        ("decoder", "c4"),
        ("decoder", "c3"),
        ("decoder", "c2"),
    ]
    assert levels[("encoder", 3)].layer.block == len(tiny_model.encoder.stages[2].blocks) - 1
    mean = run.by_level("mean")[("encoder", 3)]
    torch.testing.assert_close(mean.probs.sum((-2, -1)), torch.ones(1, 4))


def test_pca_image_shared_basis_and_determinism():
    feats = torch.randn(16, 8, 12)
    a = pca_image(feats)
    assert a.shape == (8, 12, 3) and a.dtype.name == "uint8"
    assert (pca_image(feats) == a).all()
    basis = fit_pca(feats)
    assert basis.components.shape == (16, 3)
    assert sum(basis.explained) <= 1.0 + 1e-9
    assert (basis.to_rgb(feats) == a).all()
    assert basis.to_rgb(torch.randn(1, 16, 4, 5)).shape == (4, 5, 3)
    # the sign of each component is fixed (largest loading positive): no run-to-run colour flips
    assert (basis.components.gather(0, basis.components.abs().argmax(0, keepdim=True)) > 0).all()
