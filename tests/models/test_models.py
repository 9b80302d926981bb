"""Architecture tests: shapes, parameter counts per module, ISR semantics, gradients, public API errors.

The paper's parameter counts and EDAFormer-T/B dimensions are checked on the session's shared full models
(``paper_model``); every other behaviour on EDAFormer-Mini / EFT-Mini, which have every part of the architecture."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch

from edaformer.models import (
    ISR_PRESETS,
    MODELS,
    EDAFormer,
    EDAFormerHead,
    EmbeddingFreeAttention,
    ISRSetting,
    UnfusedEmbeddingFreeAttention,
    create_model,
    edaformer_b,
    edaformer_mini,
    edaformer_t,
    eft_b,
    eft_encoder,
    eft_mini,
    eft_t,
    parse_isr,
)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "expected"),
    [("edaformer_t", 4_929_914), ("edaformer_b", 29_438_166), ("eft_t", 3_675_404), ("eft_b", 25_367_080)],
)
def test_exact_parameter_counts_match_authors(name, expected, paper_model):
    # The authors' models' counts (segmentors without the unused conv_seg: 4,949,264 - 19,350 etc.).
    assert n_params(paper_model(name)) == expected


@pytest.mark.slow
def test_parameter_counts_per_module_edaformer_t(paper_model):
    model = paper_model("edaformer_t")
    # one EFT-T stage-1 block: 2 LN(32) + EFA (1x1 conv 32*32+32, Linear 32*32+32) + MixFFN(hidden 121)
    efa = 2 * (32 * 32 + 32)
    ffn = 32 * 121 + 121 + 121 * 9 + 121 + 121 * 32 + 32
    block1 = 4 * 32 + efa + ffn
    assert n_params(model.encoder.stages[0].blocks[0]) == block1
    assert n_params(model.encoder.stages[0].patch_embed) == 3 * 32 * 49 + 32 + 2 * 32
    assert [len(s.blocks) for s in model.encoder.stages] == [2, 2, 10, 2]
    # decoder c4 block: dim 256, hidden int(256*2)=512, EFA with kv LayerNorm
    dec = 4 * 256 + 2 * (256 * 256 + 256) + 2 * 256 + (256 * 512 + 512 + 512 * 9 + 512 + 512 * 256 + 256)
    assert n_params(model.decode_head.levels[0].blocks[0]) == dec
    assert [len(level.blocks) for level in model.decode_head.levels] == [3, 2, 1]
    assert n_params(model.decode_head.fuse) == 448 * 128 + 2 * 128
    assert n_params(model.decode_head.classifier) == 128 * 150 + 150
    assert n_params(model.encoder) == 3_675_404 - (256 * 1000 + 1000)


@pytest.mark.slow
def test_edaformer_b_head_dimensions(paper_model):
    model = paper_model("edaformer_b")
    head = model.decode_head
    assert head.fuse.conv.weight.shape == (768, 64 + 128 + 256 + 512 - 64, 1, 1)  # concat c4, c3, c2 = 896
    assert head.levels[0].blocks[0].mix_ffn.fc1.weight.shape == (512, 512)  # mlp_ratio 1
    assert [len(s.blocks) for s in model.encoder.stages] == [3, 3, 22, 3]
    assert head.classifier.weight.shape == (150, 768, 1, 1)


@pytest.mark.slow
@torch.no_grad()
def test_stage_shapes_and_heads(paper_model):
    enc = paper_model("edaformer_t").encoder
    feats = enc(torch.randn(2, 3, 96, 160))
    assert [tuple(f.shape) for f in feats] == [
        (2, 32, 24, 40),
        (2, 64, 12, 20),
        (2, 128, 6, 10),
        (2, 256, 3, 5),
    ]
    assert [info["reduction"] for info in enc.feature_info] == [4, 8, 16, 32]
    heads = [s.blocks[0].attn.num_heads for s in enc.stages]
    assert heads == [1, 2, 4, 8]
    assert enc.stages[0].blocks[0].mix_ffn.fc1.out_features == 121  # int(32 * 3.8)


@pytest.mark.parametrize(("h", "w"), [(64, 64), (33, 47), (100, 75), (32, 32)])
@torch.no_grad()
def test_segmentor_output_at_input_resolution(h, w):
    model = create_model("edaformer_mini", num_classes=7).eval()
    logits = model(torch.randn(1, 3, h, w))
    assert logits.shape == (1, 7, h, w)
    assert torch.isfinite(logits).all()
    low = model.forward_low_res(torch.randn(1, 3, h, w))
    assert low.shape[-2:] == model.encoder(torch.randn(1, 3, h, w))[1].shape[-2:]  # head predicts at 1/8


def test_segmentor_rejects_bad_input():
    model = create_model("edaformer_mini", num_classes=3).eval()
    with pytest.raises(ValueError, match="32"):
        model(torch.randn(1, 3, 16, 64))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        model(torch.randn(1, 1, 64, 64))


@torch.no_grad()
def test_classifier_output():
    model = create_model("eft_mini", num_classes=10).eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    assert model.isr == ISRSetting((8, 4, 2, 1), None)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_create_model_unknown_keyword_is_a_type_error_listing_the_valid_ones(name):
    with pytest.raises(TypeError) as err:
        create_model(
            name, depths=(1, 1, 1, 1)
        )  # architecture is not a knob: it must not reach the head silently
    message = str(err.value)
    assert "depths" in message and "\n" not in message
    for keyword in inspect.signature(MODELS[name]).parameters:
        assert keyword in message
    with pytest.raises(TypeError, match="depths"):
        MODELS[name](depths=(1, 1, 1, 1))  # the factories themselves have no **kwargs either


def test_factory_signatures_are_explicit_and_shared_by_variants():
    for factories in [(edaformer_t, edaformer_b, edaformer_mini), (eft_t, eft_b, eft_mini)]:
        names = [list(inspect.signature(f).parameters) for f in factories]
        assert names[0] == names[1] == names[2]
    for factory in MODELS.values():
        kinds = {p.kind for p in inspect.signature(factory).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds
    defaults = {k: p.default for k, p in inspect.signature(edaformer_b).parameters.items()}
    assert defaults == {
        "num_classes": 150,
        "isr": None,
        "train_isr": None,
        "drop_path_rate": 0.2,
        "in_chans": 3,
        "embed_dim": 768,
        "decoder_mlp_ratio": 1.0,
        "decoder_drop_path": 0.1,
        "dropout": 0.1,
    }


def test_factory_keywords_reach_their_module():
    model = create_model(
        "edaformer_mini",
        num_classes=4,
        drop_path_rate=0.3,
        in_chans=1,
        embed_dim=32,
        decoder_mlp_ratio=1.0,
        decoder_drop_path=0.05,
        dropout=0.2,
        isr="paper",
    )
    assert model.encoder.stages[-1].blocks[-1].drop_path.drop_prob == pytest.approx(0.3)
    assert model.encoder.stages[0].patch_embed.proj.in_channels == 1
    head = model.decode_head
    assert head.fuse.conv.out_channels == 32 and head.classifier.out_channels == 4
    assert head.levels[0].blocks[0].mix_ffn.fc1.out_features == 128  # c4 width x 1.0
    assert {b.drop_path.drop_prob for lv in head.levels for b in lv.blocks} == {0.05}
    assert head.dropout.p == 0.2
    assert model.isr == ISR_PRESETS["paper"]
    classifier = create_model("eft_mini", num_classes=0, drop_path_rate=0.0, in_chans=4, isr="aggressive")
    assert classifier.encoder.stages[0].patch_embed.proj.in_channels == 4
    assert classifier.isr == ISRSetting((16, 8, 4, 2), None)
    assert all(
        isinstance(b.drop_path, torch.nn.Identity) for s in classifier.encoder.stages for b in s.blocks
    )
    assert eft_encoder("mini", isr="paper").isr == ISRSetting((16, 8, 2, 1), None)


@pytest.mark.slow
def test_head_declares_its_stages_and_reads_feature_info(paper_model):
    assert EDAFormerHead.in_stages == (1, 2, 3)
    model = paper_model("edaformer_b")
    levels = model.decode_head.levels
    assert [lv.stage for lv in levels] == [3, 2, 1]  # c4, c3, c2: the order of the decoder ISR ratios
    assert [lv.reduction for lv in levels] == [32, 16, 8]
    assert [lv.blocks[0].attn.dim for lv in levels] == [512, 256, 128]
    # any encoder description works: channels and strides come from feature_info, stage 0 is not read
    info = [{"num_chs": c, "reduction": r} for c, r in [(8, 2), (16, 4), (24, 8), (40, 16)]]
    head = EDAFormerHead(info, num_classes=3, embed_dim=16)
    assert [lv.blocks[0].attn.dim for lv in head.levels] == [40, 24, 16]
    assert [lv.reduction for lv in head.levels] == [16, 8, 4]
    feats = [torch.randn(1, c, 64 // r, 64 // r) for c, r in [(8, 2), (16, 4), (24, 8), (40, 16)]]
    assert head(feats).shape == (1, 3, 16, 16)  # at the finest stage read
    with pytest.raises(ValueError, match="reads stages"):
        EDAFormerHead(info[:3], num_classes=3)


def test_create_model_unknown_name_lists_valid():
    with pytest.raises(ValueError) as err:
        create_model("segformer_b0")
    for name in MODELS:
        assert name in str(err.value)


def test_isr_presets_and_notation():
    assert str(ISR_PRESETS["paper"]) == "16,8,2,1-2,4,8"
    assert parse_isr("16,8,2,1-2,4,8") == ISR_PRESETS["paper"]
    assert parse_isr("aggressive").encoder == (16, 8, 4, 2)
    model = create_model("edaformer_mini")
    assert model.isr == ISR_PRESETS["train"]
    model.set_isr(encoder=(16, 8, 2, 1), decoder=(2, 4, 8))
    assert model.isr == ISR_PRESETS["paper"]
    ratios = [b.attn.pool_ratio for s in model.encoder.stages for b in s.blocks]
    assert ratios == [16, 8, 2, 1]  # one block per stage
    assert [b.attn.pool_ratio for lv in model.decode_head.levels for b in lv.blocks] == [2, 2, 2, 4, 4, 8]
    model.set_isr(decoder=(1, 2, 4))  # only the decoder changes
    assert model.isr == ISRSetting((16, 8, 2, 1), (1, 2, 4))


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"encoder": (8, 4, 0, 1)}, "0"),
        ({"encoder": (8, -4, 2, 1)}, "-4"),
        ({"encoder": (8, 4, 2.5, 1)}, "2.5"),
        ({"encoder": (8, 4, 2)}, "4 entries"),
        ({"decoder": (1, 2, 4, 8)}, "3 entries"),
        ({"decoder": (1, "2", 4)}, "'2'"),
    ],
)
def test_invalid_isr_raises_naming_value(kwargs, bad):
    model = create_model("edaformer_mini")
    with pytest.raises(ValueError, match=bad):
        model.set_isr(**kwargs)
    assert model.isr == ISR_PRESETS["train"]  # nothing changed


def test_classifier_takes_encoder_only():
    model = create_model("eft_mini")
    with pytest.raises(ValueError, match="no decoder"):
        model.set_isr(decoder=(2, 4, 8))
    model.set_isr(encoder=(16, 8, 2, 1))
    assert model.encoder.isr.encoder == (16, 8, 2, 1)


@torch.no_grad()
def test_isr_round_trip_restores_exact_outputs():
    model = create_model("edaformer_mini", num_classes=5).eval()
    x = torch.randn(1, 3, 64, 96)
    before = model(x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.set_isr("aggressive")
    during = model(x)
    assert during.shape == before.shape
    assert not torch.allclose(during, before)
    model.set_isr("train")
    assert torch.equal(model(x), before)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())  # same weights, same keys


@torch.no_grad()
def test_huge_ratios_on_tiny_images_keep_one_token():
    model = create_model("edaformer_mini", num_classes=4).eval()
    model.set_isr(encoder=(64, 64, 64, 64), decoder=(64, 64, 64))
    out = model(torch.randn(1, 3, 32, 48))
    assert out.shape == (1, 4, 32, 48) and torch.isfinite(out).all()
    attn = model.encoder.stages[0].blocks[0].attn
    assert attn.pooled_hw((8, 12)) == (1, 1)
    # with a single key/value token, every query's output is that token's projection: rows are identical
    tokens = torch.randn(1, 96, attn.dim)
    out = attn(tokens, (8, 12))
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-6)


def test_efa_pooling_floors_like_the_authors():
    attn = EmbeddingFreeAttention(8, 2, pool_ratio=16)
    x = torch.randn(1, 128 * 168, 8)
    kv = attn.keys_values(x, (128, 168))
    assert kv.shape == (1, 8 * 10, 8)  # 168 // 16 = 10: the last 8 columns are left out
    cropped = x.view(1, 128, 168, 8)[:, :, :160].reshape(1, -1, 8)
    assert torch.allclose(kv, attn.keys_values(cropped, (128, 160)), atol=1e-6)


def test_efa_matches_explicit_formula_and_unfused_variant():
    torch.manual_seed(1)
    fused = EmbeddingFreeAttention(16, 4, pool_ratio=2, kv_norm=True)
    unfused = UnfusedEmbeddingFreeAttention(16, 4, pool_ratio=2, kv_norm=True)
    unfused.load_state_dict(fused.state_dict())
    x = torch.randn(2, 6 * 4, 16)
    # explicit: q = x; kv = GELU(LN(conv1x1(avgpool2(x)))); per-head softmax(q kᵀ/√4) kv; Linear
    m = x.transpose(1, 2).reshape(2, 16, 6, 4)
    kv = torch.nn.functional.avg_pool2d(m, 2)
    kv = torch.nn.functional.conv2d(kv, fused.kv_proj.weight, fused.kv_proj.bias).flatten(2).transpose(1, 2)
    kv = torch.nn.functional.gelu(fused.kv_norm(kv))
    q = x.view(2, 24, 4, 4).transpose(1, 2)
    k = kv.view(2, 6, 4, 4).transpose(1, 2)
    ref = ((q @ k.transpose(-2, -1)) / 2.0).softmax(-1) @ k
    ref = fused.out_proj(ref.transpose(1, 2).reshape(2, 24, 16))
    assert torch.allclose(fused(x, (6, 4)), ref, atol=1e-5)
    assert torch.allclose(unfused(x, (6, 4)), ref, atol=1e-5)


def test_gradients_reach_every_parameter_in_training_mode():
    # without stochastic depth, which would skip a block for a whole small batch now and then
    model = create_model("edaformer_mini", num_classes=3, drop_path_rate=0.0, decoder_drop_path=0.0).train()
    logits = model(torch.randn(2, 3, 64, 64))
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 3, (2, 64, 64))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []


def test_drop_path_schedule():
    enc = eft_encoder("mini")
    rates = [
        b.drop_path.drop_prob if hasattr(b.drop_path, "drop_prob") else 0.0
        for s in enc.stages
        for b in s.blocks
    ]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2) and len(rates) == 4
    assert rates == sorted(rates) and len(set(rates)) == 4  # rising linearly over the blocks
    head = create_model("edaformer_mini").decode_head
    assert {b.drop_path.drop_prob for lv in head.levels for b in lv.blocks} == {0.1}


def test_layer_norm_epsilons():
    model = create_model("edaformer_mini")
    stage = model.encoder.stages[0]
    assert stage.patch_embed.norm.eps == 1e-5
    assert stage.blocks[0].norm1.eps == 1e-6 and stage.norm.eps == 1e-6
    block = model.decode_head.levels[0].blocks[0]
    assert block.norm1.eps == 1e-5 and block.attn.kv_norm.eps == 1e-5


@pytest.mark.slow
def test_models_package_imports_only_torch():
    code = (
        "import sys, edaformer.models; "
        "bad = [m for m in ('lightning', 'pytorch_lightning', 'hydra', 'omegaconf') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_factory_returns_segmentor_with_isr_kwarg():
    model = create_model("edaformer_mini", num_classes=19, isr="paper")
    assert isinstance(model, EDAFormer) and model.isr == ISR_PRESETS["paper"] and model.num_classes == 19


def test_head_init_as_the_authors():
    """Classifier: PyTorch's Conv2d default (the authors' untouched ``linear_pred``); fuse conv: He-normal fan-out."""
    torch.manual_seed(0)
    head = create_model("edaformer_mini", num_classes=150).decode_head
    width = head.fuse.conv.out_channels  # E = 32
    weight, bias = head.classifier.weight.detach(), head.classifier.bias.detach()
    bound = 1 / width**0.5  # kaiming-uniform(a=√5) on fan_in = E, and the bias bound
    assert weight.abs().max() <= bound and weight.abs().max() > 0.99 * bound
    assert weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.03)  # uniform, not He-normal
    assert bias.abs().max() <= bound and bias.abs().min() > 0  # not zeroed
    fuse = head.fuse.conv.weight.detach()
    assert fuse.mean().item() == pytest.approx(0.0, abs=0.01)
    assert fuse.std().item() == pytest.approx((2 / width) ** 0.5, rel=0.03)  # normal(0, √(2 / fan_out))
