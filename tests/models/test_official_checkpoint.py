"""Official (MMSeg) checkpoint import: key mapping both ways, strictness, numerics vs a functional transcription."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from edaformer.checkpoints import load_model, load_official_checkpoint
from edaformer.models import CheckpointMismatchError, create_model, to_official_state_dict
from edaformer.models.official import official_to_ours, ours_to_official
from tests.conftest import REPO, official_layout, random_official_state_dict
from tests.models.reference_official import official_forward


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["t", "b"])
def test_key_mapping_round_trip_over_official_layout(variant):
    layout = official_layout(variant)
    model = create_model(f"edaformer_{variant}", num_classes=150)
    ours = model.state_dict()
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


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["t", "b"])
def test_load_official_reports_conv_seg_and_round_trips_values(variant):
    official = random_official_state_dict(variant)
    model = create_model(f"edaformer_{variant}", num_classes=150)
    dropped = load_official_checkpoint(model, {"state_dict": official, "meta": {"iter": 160000}})
    assert sorted(dropped) == ["decode_head.conv_seg.bias", "decode_head.conv_seg.weight"]
    back = to_official_state_dict(model)
    assert set(back) == set(official) - set(dropped)
    assert all(torch.equal(back[k], official[k]) for k in back)


@pytest.mark.slow
@torch.no_grad()
@pytest.mark.parametrize("isr", [((8, 4, 2, 1), (1, 2, 4)), ((16, 8, 2, 1), (2, 4, 8))])
def test_loaded_weights_reproduce_the_authors_forward(isr):
    official = random_official_state_dict("t", seed=3)
    model = create_model("edaformer_t", num_classes=150).eval()
    load_official_checkpoint(model, official)
    model.set_isr(encoder=isr[0], decoder=isr[1])
    img = torch.randn(1, 3, 128, 160)
    ref = official_forward(official, img, *isr)
    ours = model(img)
    assert torch.allclose(ours, ref, atol=1e-4, rtol=1e-4), (ours - ref).abs().max()


@pytest.mark.slow
def test_mismatches_list_every_offending_key():
    official = random_official_state_dict("t")
    official["backbone.block1.0.attn.q.weight"] = torch.zeros(32, 32)  # unknown key
    del official["decode_head.linear_pred.bias"]  # missing
    official["backbone.norm4.weight"] = torch.zeros(128)  # wrong shape
    model = create_model("edaformer_t", num_classes=150)
    with pytest.raises(CheckpointMismatchError) as err:
        load_official_checkpoint(model, official)
    msg = str(err.value)
    assert "backbone.block1.0.attn.q.weight" in msg
    assert "decode_head.classifier.bias" in msg
    assert "encoder.stages.3.norm.weight" in msg and "(128,)" in msg


@pytest.mark.slow
def test_wrong_variant_is_refused():
    with pytest.raises(CheckpointMismatchError, match="shape mismatches"):
        load_official_checkpoint(
            create_model("edaformer_b", num_classes=150), random_official_state_dict("t")
        )


@pytest.mark.slow
def test_pretrained_encoder_in_pvt_layout_loads_into_encoder_and_classifier():
    official = random_official_state_dict("t")
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


@pytest.mark.slow
def test_convert_script_and_load_model(tmp_path):
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
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "convert_official.py"), f"ckpt_path={src}", f"output={dst}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "edaformer_t, 19 classes" in result.stdout and "conv_seg" in result.stdout
    img = torch.randn(1, 3, 64, 64)
    converted, info = load_model(dst)
    direct, info2 = load_model(src)
    assert (info.kind, info2.kind, info.num_classes) == ("ours", "official", 19)
    with torch.no_grad():
        assert torch.equal(converted(img), direct(img))
        assert torch.allclose(direct(img), official_forward(official, img), atol=1e-4)


@pytest.mark.slow
def test_convert_script_fails_on_bad_checkpoint(tmp_path):
    src = tmp_path / "bad.pth"
    torch.save({"state_dict": {"backbone.patch_embed1.proj.weight": torch.zeros(32, 3, 7, 7)}}, src)
    dst = tmp_path / "o.pt"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "convert_official.py"), f"ckpt_path={src}", f"output={dst}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2  # a checkpoint that is not the authors' EDAFormer: the user's input
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "decode_head.linear_pred.weight" in result.stderr and not dst.exists()
    dst.write_bytes(b"keep me")
    src.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "convert_official.py"), f"ckpt_path={src}", f"output={dst}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "exists" in result.stderr and dst.read_bytes() == b"keep me"
