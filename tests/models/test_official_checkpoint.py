"""Official (MMSeg) checkpoint import: key mapping both ways, strictness, numerics vs a functional transcription
of the authors' forward pass (tests/models/reference_official.py). EDAFormer-T/B: the authors' layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edaformer.checkpoints import load_model, load_official_checkpoint
from edaformer.cli.convert_official import main as convert_main
from edaformer.models import CheckpointMismatchError, create_model, isr_applied, to_official_state_dict
from edaformer.models.official import official_to_ours, ours_to_official
from tests.conftest import official_layout, random_official_state_dict, run_main
from tests.models.reference_official import official_forward

pytestmark = pytest.mark.slow  # the authors' EDAFormer-T/B, full size


@pytest.mark.parametrize("variant", ["t", "b"])
def test_key_mapping_round_trip_over_official_layout(variant, paper_model):
    layout = official_layout(variant)
    ours = paper_model(f"edaformer_{variant}").state_dict()
    mapped = {}
    for key, shape in layout.items():
        if key.startswith("decode_head.conv_seg."):
            assert official_to_ours(key) is None
            continue
        target = official_to_ours(key)
        assert target in ours, key
        assert list(ours[target].shape) == shape, key
        assert ours_to_official(target) == key
        mapped[target] = key
    assert set(mapped) == set(ours)  # every one of ours filled, one-to-one
    assert len(set(mapped.values())) == len(mapped)


@pytest.fixture(scope="module")
def official_t() -> dict[str, torch.Tensor]:
    return random_official_state_dict("t", seed=3)


@pytest.fixture(scope="module")
def loaded_t(official_t) -> torch.nn.Module:
    """EDAFormer-T holding ``official_t``'s weights (a model of its own: loading changes weights)."""
    model = create_model("edaformer_t", num_classes=150).eval()
    dropped = load_official_checkpoint(model, {"state_dict": official_t, "meta": {"iter": 160000}})
    assert sorted(dropped) == ["decode_head.conv_seg.bias", "decode_head.conv_seg.weight"]
    return model


def test_load_official_reports_conv_seg_and_round_trips_values(official_t, loaded_t):
    back = to_official_state_dict(loaded_t)
    assert set(back) == set(official_t) - {"decode_head.conv_seg.bias", "decode_head.conv_seg.weight"}
    assert all(torch.equal(back[k], official_t[k]) for k in back)


@torch.no_grad()
@pytest.mark.parametrize("isr", [((8, 4, 2, 1), (1, 2, 4)), ((16, 8, 2, 1), (2, 4, 8))])
def test_loaded_weights_reproduce_the_authors_forward(isr, official_t, loaded_t):
    img = torch.randn(1, 3, 128, 160)
    ref = official_forward(official_t, img, *isr)
    with isr_applied(loaded_t, {"encoder": isr[0], "decoder": isr[1]}):
        ours = loaded_t(img)
    assert torch.allclose(ours, ref, atol=1e-4, rtol=1e-4), (ours - ref).abs().max()


def test_mismatches_list_every_offending_key(paper_model):
    official = random_official_state_dict("t")
    official["backbone.block1.0.attn.q.weight"] = torch.zeros(32, 32)  # unknown key
    del official["decode_head.linear_pred.bias"]  # missing
    official["backbone.norm4.weight"] = torch.zeros(128)  # wrong shape
    with pytest.raises(CheckpointMismatchError) as err:  # found before any weight is loaded
        load_official_checkpoint(paper_model("edaformer_t"), official)
    msg = str(err.value)
    assert "backbone.block1.0.attn.q.weight" in msg
    assert "decode_head.classifier.bias" in msg
    assert "encoder.stages.3.norm.weight" in msg and "(128,)" in msg


def test_wrong_variant_is_refused(paper_model, official_t):
    with pytest.raises(CheckpointMismatchError, match="shape"):
        load_official_checkpoint(paper_model("edaformer_b"), official_t)


def test_pretrained_encoder_in_pvt_layout_loads_into_encoder_and_classifier(official_t):
    official = official_t
    backbone = {k.removeprefix("backbone."): v for k, v in official.items() if k.startswith("backbone.")}
    classifier = create_model("eft_t", num_classes=1000)
    load_official_checkpoint(
        classifier, {**backbone, "head.weight": torch.zeros(1000, 256), "head.bias": torch.zeros(1000)}
    )
    assert torch.equal(
        classifier.encoder.stages[1].blocks[0].attn.kv_proj.weight, backbone["block2.0.attn.sr.weight"]
    )
    seg = create_model("edaformer_t")
    load_official_checkpoint(seg.encoder, backbone)
    assert torch.equal(seg.encoder.stages[3].norm.bias, backbone["norm4.bias"])


def test_convert_command_and_load_model(tmp_path, capsys):
    official = random_official_state_dict("t", seed=5)
    official["decode_head.linear_pred.weight"] = torch.randn(19, 128, 1, 1)
    official["decode_head.linear_pred.bias"] = torch.randn(19)
    official["decode_head.conv_seg.weight"] = torch.randn(19, 128, 1, 1)
    official["decode_head.conv_seg.bias"] = torch.randn(19)
    src = tmp_path / "official.pth"
    # MMCV-era meta: numpy scalars and arrays must not stop a weights_only load
    meta = {"CLASSES": ("road",) * 19, "iter": np.int64(160000), "PALETTE": np.zeros((19, 3), np.uint8)}
    torch.save({"meta": meta, "state_dict": official}, src)
    dst = tmp_path / "ours.pt"
    assert run_main(convert_main, f"ckpt_path={src}", f"output={dst}") == 0
    assert "edaformer_t, 19 classes" in capsys.readouterr().out
    converted, info = load_model(dst)
    direct, info2 = load_model(src)
    assert (info.kind, info2.kind, info.num_classes) == ("ours", "official", 19)
    theirs = direct.state_dict()  # the authors' forward on these weights: test_loaded_weights_reproduce_...
    assert all(torch.equal(v, theirs[k]) for k, v in converted.state_dict().items())


def test_convert_command_fails_on_bad_checkpoint(tmp_path, capsys):
    src = tmp_path / "bad.pth"
    torch.save({"state_dict": {"backbone.patch_embed1.proj.weight": torch.zeros(32, 3, 7, 7)}}, src)
    dst = tmp_path / "o.pt"
    # a checkpoint that is not the authors' EDAFormer: the user's input, one error line, exit 2, nothing written
    assert run_main(convert_main, f"ckpt_path={src}", f"output={dst}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "decode_head.linear_pred.weight" in err[0]
    assert not dst.exists()
    dst.write_bytes(b"keep me")
    src.write_bytes(b"")
    assert run_main(convert_main, f"ckpt_path={src}", f"output={dst}") == 2
    assert str(dst) in capsys.readouterr().err and dst.read_bytes() == b"keep me"  # never overwritten
