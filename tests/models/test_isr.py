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
    return create_model("edaformer_t", num_classes=3).eval()


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
    [lambda: create_model("eft_t", num_classes=5), lambda: eft_encoder("t")],
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
    assert ratios == [16] * 2 + [8] * 2 + [2] * 10 + [1] * 2
    with isr_applied(net, "aggressive") as applied:
        assert applied == ISRSetting((16, 8, 4, 2), None)
    assert net.isr == ENCODER_ONLY
    with pytest.raises(ValueError, match="no decoder"):
        net.set_isr(decoder=(2, 4, 8))  # an explicit decoder= keyword is still an error


def test_classifier_factory_takes_a_full_setting():
    assert create_model("eft_t", num_classes=2, isr="aggressive").isr == ISRSetting((16, 8, 4, 2), None)


def test_resolve_isr_changes_nothing(segmentor):
    assert segmentor.resolve_isr(decoder=(2, 4, 8)) == ISRSetting((8, 4, 2, 1), (2, 4, 8))
    assert segmentor.resolve_isr("16,8,2,1") == ISRSetting((16, 8, 2, 1), (1, 2, 4))  # decoder stays
    assert segmentor.isr == ISR_PRESETS["train"]
    with pytest.raises(ValueError, match="not both"):
        segmentor.resolve_isr("paper", encoder=(8, 4, 2, 1))
