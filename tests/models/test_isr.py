"""ISR in one place: the parser of every form, the apply-and-restore context manager, models without a decoder."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from edaformer.models import ISR_PRESETS, ISRSetting, create_model, eft_encoder, isr_applied, parse_isr

PAPER = ISRSetting((16, 8, 2, 1), (2, 4, 8))
ENCODER_ONLY = ISRSetting((16, 8, 2, 1), None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (PAPER, PAPER),
        ("paper", PAPER),
        (" paper ", PAPER),
        ("16,8,2,1-2,4,8", PAPER),
        ("16, 8, 2, 1 - 2, 4, 8", PAPER),
        ("16,8,2,1", ENCODER_ONLY),
        ([[16, 8, 2, 1], [2, 4, 8]], PAPER),
        (((16, 8, 2, 1), (2, 4, 8)), PAPER),
        ([[16, 8, 2, 1], None], ENCODER_ONLY),
        ([[16, 8, 2, 1]], ENCODER_ONLY),
        ({"encoder": [16, 8, 2, 1], "decoder": [2, 4, 8]}, PAPER),
        ({"encoder": (16, 8, 2, 1), "decoder": None}, ENCODER_ONLY),
        ({"encoder": [16, 8, 2, 1]}, ENCODER_ONLY),
    ],
)
def test_parse_reads_every_form(value, expected):
    assert parse_isr(value) == expected


def test_parse_reads_config_containers_with_interpolations():
    cfg = OmegaConf.create(
        {
            "isr": {"encoder": [16, 8, 2, 1], "decoder": [2, 4, 8]},
            "as_mapping": "${isr}",
            "as_pair": ["${isr.encoder}", "${isr.decoder}"],
            "encoder_only": ["${isr.encoder}", None],
        }
    )
    assert parse_isr(cfg.as_mapping) == PAPER
    assert parse_isr(cfg.as_pair) == PAPER
    assert parse_isr(cfg.encoder_only) == ENCODER_ONLY
    assert isinstance(parse_isr(cfg.isr).encoder, tuple)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("papr", "'papr'"),
        ("16,8,2", "3: (16, 8, 2)"),
        ("16,8,2,1-2,x,8", "'16,8,2,1-2,x,8'"),
        ("16,8,2,1-", "'16,8,2,1-'"),
        ([16, 8, 2, 1], "[16, 8, 2, 1]"),  # flat: encoder and decoder must be told apart
        ([[16, 8, 2, 0], [2, 4, 8]], "got 0"),
        ([[16, 8, 2, 1], [2, 4]], "(2, 4)"),
        ([[16, 8, 2, 1], "2,4,8"], "'2,4,8'"),
        ([None, [2, 4, 8]], "None"),
        ({"encoder": [16, 8, 2, 1], "decodr": [2, 4, 8]}, "'decodr'"),
        ({"decoder": [2, 4, 8]}, "'decoder'"),
        (16, "16"),
        (1.5, "1.5"),
    ],
)
def test_parse_errors_are_one_line_and_name_the_value(value, named):
    with pytest.raises(ValueError) as err:
        parse_isr(value)
    message = str(err.value)
    assert named in message and "\n" not in message


def test_preset_names():
    assert {name: s.preset for name, s in ISR_PRESETS.items()} == {n: n for n in ISR_PRESETS}
    assert ISRSetting((16, 8, 4, 1), (2, 4, 8)).preset is None
    assert ENCODER_ONLY.preset == "paper"  # an encoder-only setting is named by its encoder
    assert ISRSetting((8, 4, 2, 1), None).preset == "train"


@pytest.fixture(scope="module")
def segmentor():
    return create_model("edaformer_mini", num_classes=3).eval()


def test_isr_applied_restores_even_after_an_exception(segmentor):
    with pytest.raises(RuntimeError, match="boom"), isr_applied(segmentor, "aggressive") as setting:
        assert setting == segmentor.isr == ISR_PRESETS["aggressive"]
        raise RuntimeError("boom")
    assert segmentor.isr == ISR_PRESETS["train"]


def test_isr_applied_nests_and_none_leaves_the_model_alone(segmentor):
    with isr_applied(segmentor, {"encoder": [16, 8, 2, 1], "decoder": [2, 4, 8]}) as outer:
        assert outer == PAPER
        with isr_applied(segmentor, "16,8,4,2") as inner:  # encoder only: the decoder stays at the outer's
            assert inner == segmentor.isr == ISRSetting((16, 8, 4, 2), (2, 4, 8))
        assert segmentor.isr == PAPER
        with isr_applied(segmentor, None) as same:
            assert same == PAPER
        assert segmentor.isr == PAPER
    assert segmentor.isr == ISR_PRESETS["train"]


def test_isr_applied_with_a_bad_setting_changes_nothing(segmentor):
    with pytest.raises(ValueError, match="papr"), isr_applied(segmentor, "papr"):
        pass
    assert segmentor.isr == ISR_PRESETS["train"]


@torch.no_grad()
def test_isr_applied_gives_the_outputs_of_set_isr(segmentor):
    x = torch.randn(1, 3, 64, 64)
    before = segmentor(x)
    with isr_applied(segmentor, "paper"):
        during = segmentor(x)
    assert torch.equal(segmentor(x), before)
    segmentor.set_isr("paper")
    try:
        assert torch.equal(segmentor(x), during)
    finally:
        segmentor.set_isr("train")


@pytest.mark.parametrize(
    "model",
    [lambda: create_model("eft_mini", num_classes=5), lambda: eft_encoder("mini")],
    ids=["classifier", "bare_encoder"],
)
@pytest.mark.parametrize("setting", ["paper", PAPER, "16,8,2,1-2,4,8", [[16, 8, 2, 1], [2, 4, 8]]])
def test_models_without_decoder_take_the_encoder_part_of_a_full_setting(model, setting):
    net = model()
    assert net.resolve_isr(setting) == ENCODER_ONLY and net.isr == ISRSetting((8, 4, 2, 1), None)
    assert net.set_isr(setting) == ENCODER_ONLY == net.isr
    ratios = [
        b.attn.pool_ratio for s in (net.encoder if hasattr(net, "encoder") else net).stages for b in s.blocks
    ]
    assert ratios == [16, 8, 2, 1]  # one block per stage
    with isr_applied(net, "aggressive") as applied:
        assert applied == ISRSetting((16, 8, 4, 2), None)
    assert net.isr == ENCODER_ONLY
    with pytest.raises(ValueError, match="no decoder"):
        net.set_isr(decoder=(2, 4, 8))  # an explicit decoder= keyword is still an error


def test_classifier_factory_takes_a_full_setting():
    assert create_model("eft_mini", num_classes=2, isr="aggressive").isr == ISRSetting((16, 8, 4, 2), None)


def test_resolve_isr_changes_nothing(segmentor):
    assert segmentor.resolve_isr(decoder=(2, 4, 8)) == ISRSetting((8, 4, 2, 1), (2, 4, 8))
    assert segmentor.resolve_isr("16,8,2,1") == ISRSetting((16, 8, 2, 1), (1, 2, 4))  # decoder stays
    assert segmentor.isr == ISR_PRESETS["train"]
    with pytest.raises(ValueError, match="not both"):
        segmentor.resolve_isr("paper", encoder=(8, 4, 2, 1))


# ---------------------------------------------------------------------------- training at other ratios (Table 4 *)
AGGRESSIVE = ISR_PRESETS["aggressive"]


def _attention_ratios(net) -> tuple[list[int], list[int]]:
    encoder, decoder = net.efa_levels()
    levels = [*encoder, *decoder]
    return (
        [b.attn.train_pool_ratio for lv in levels for b in lv.blocks],
        [b.attn.pool_ratio for lv in levels for b in lv.blocks],
    )


@pytest.mark.parametrize("form", ["aggressive", "16,8,4,2-2,4,8", [[16, 8, 4, 2], [2, 4, 8]], AGGRESSIVE])
def test_train_isr_builds_every_efa_layer_at_those_ratios(form):
    net = create_model("edaformer_mini", num_classes=3, train_isr=form)
    assert net.train_isr == AGGRESSIVE and net.isr == AGGRESSIVE  # inference starts at the training ratios
    trained, current = _attention_ratios(net)
    expected = [16, 8, 4, 2] + [2] * 3 + [4] * 2 + [8] * 1  # one block per stage; decoder depths 3, 2, 1
    assert trained == current == expected
    standard = create_model("edaformer_mini", num_classes=3)
    assert standard.train_isr == ISR_PRESETS["train"]
    # same tensors, whatever the ratios: a checkpoint trained at one ratio loads into a model built at another
    assert {k: v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in standard.state_dict().items()
    }


def test_train_isr_of_models_without_decoder_and_encoder_only_forms():
    assert create_model("eft_mini", num_classes=2, train_isr="aggressive").train_isr == ISRSetting(
        (16, 8, 4, 2), None
    )
    assert eft_encoder("mini", train_isr="16,8,4,2-2,4,8").train_isr == ISRSetting((16, 8, 4, 2), None)
    # a segmentor given encoder ratios only keeps the standard decoder ratios
    assert create_model("edaformer_mini", train_isr="16,8,4,2").train_isr == ISRSetting(
        (16, 8, 4, 2), (1, 2, 4)
    )


def test_train_isr_with_an_inference_setting_and_the_way_back():
    net = create_model("edaformer_mini", num_classes=3, train_isr="aggressive", isr="paper")
    assert net.isr == PAPER and net.train_isr == AGGRESSIVE
    assert net.set_isr("own") == AGGRESSIVE == net.isr
    assert net.set_isr("train") == ISR_PRESETS["train"]  # the preset stays the standard ratios
    assert net.set_isr(net.train_isr) == AGGRESSIVE  # the same, spelled with the attribute
    with isr_applied(net, "train"):
        with isr_applied(net, " own ") as own:
            assert own == AGGRESSIVE == net.isr
        assert net.isr == ISR_PRESETS["train"]
    assert net.isr == AGGRESSIVE
    # a part may be "own": the config group isr=own is {encoder: own, decoder: own}, isr.decoder=... replaces one
    assert net.resolve_isr({"encoder": "own", "decoder": [1, 2, 4]}) == ISRSetting((16, 8, 4, 2), (1, 2, 4))
    assert net.resolve_isr(OmegaConf.create({"encoder": [8, 4, 2, 1], "decoder": "own"})) == ISRSetting(
        (8, 4, 2, 1), (2, 4, 8)
    )
    classifier = create_model("eft_mini", num_classes=2, train_isr="aggressive", isr="train")
    assert classifier.set_isr({"encoder": "own", "decoder": "own"}) == ISRSetting((16, 8, 4, 2), None)


@torch.no_grad()
def test_own_ratios_are_the_ones_the_forward_pass_uses():
    x = torch.randn(1, 3, 64, 64)
    net = create_model("edaformer_mini", num_classes=3, train_isr="aggressive").eval()
    at_own = net(x)
    with isr_applied(net, "aggressive"):
        assert torch.equal(net(x), at_own)
    with isr_applied(net, "train"):
        assert not torch.allclose(net(x), at_own)


@pytest.mark.parametrize("value", ["own", " own"])
def test_train_isr_cannot_be_own_and_own_needs_a_model(value):
    with pytest.raises(ValueError, match="not 'own'"):
        create_model("edaformer_mini", train_isr=value)
    with pytest.raises(ValueError, match="only a model resolves it") as err:
        parse_isr(value)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="only a model"):
        parse_isr({"encoder": "own"})
    assert parse_isr({"encoder": "own", "decoder": "own"}, own=AGGRESSIVE) == AGGRESSIVE
