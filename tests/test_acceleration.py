"""compile=true / precision=bf16 (edaformer.evaluation.acceleration): guarded recompilation on ISR switches and new
sizes, bfloat16 weights with float32 in/out, and the options of predict / export / benchmark / eval."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edaformer.checkpoints import save_model
from edaformer.cli.export import main as export_main
from edaformer.cli.predict import main as predict_main
from edaformer.evaluation import Segmenter, resolve_classes, segment_labels
from edaformer.evaluation.acceleration import AcceleratedModel, accelerate, unwrap
from edaformer.models import create_model, isr_applied
from tests.conftest import run_main

NUM_CLASSES = 6


def _pair(num_classes: int = 5, name: str = "edaformer_mini") -> tuple[torch.nn.Module, torch.nn.Module]:
    """Two copies of one random model: one to accelerate, one eager float32 reference."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=num_classes).eval()
    ref = create_model(name, num_classes=num_classes).eval()
    ref.load_state_dict(model.state_dict())
    return model, ref


@pytest.fixture(scope="module")
def mini_ckpt(tmp_path_factory) -> Path:
    """A random EDAFormer-Mini of 6 classes in our checkpoint format."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "edaformer_mini.pth"
    save_model(create_model("edaformer_mini", num_classes=NUM_CLASSES), path, "edaformer_mini")
    return path


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _check_guards(fast: torch.nn.Module, ref: torch.nn.Module, atol: float, new_size: bool = True) -> None:
    """Outputs equal eager ones after an ISR switch and at a new size (recompiled, not reused)."""
    calls = [("train", 1, 64, 96), ("paper", 1, 64, 96)] + ([("paper", 2, 96, 64)] if new_size else [])
    with torch.no_grad():
        for isr, batch, h, w in calls:
            fast.set_isr(isr)
            ref.set_isr(isr)
            x = torch.randn(batch, 3, h, w)
            out = fast(x)
            assert out.dtype == torch.float32 and out.shape == (batch, ref.num_classes, h, w)
            assert (out - ref(x)).abs().max() <= atol, (isr, h, w)
        fast.set_isr("train")
        with isr_applied(fast, "paper"):  # the context manager sees through the wrapper
            assert str(fast.isr) == str(unwrap(fast).isr) == "16,8,2,1-2,4,8"
        assert str(fast.isr) == "8,4,2,1-1,2,4"


def test_defaults_return_the_model_itself():
    model, _ = _pair()
    assert accelerate(model) is model and unwrap(model) is model
    with pytest.raises(ValueError, match="fp32, bf16"):
        accelerate(model, precision="fp16")


@pytest.mark.slow
def test_compiled_guards_follow_isr_and_size():
    """TorchDynamo's guards (the part of torch.compile that decides when to recompile), traced eagerly."""
    model, ref = _pair()
    fast = accelerate(model, compile=True, backend="eager")
    assert isinstance(fast, AcceleratedModel) and fast.num_classes == 5 and unwrap(fast) is model
    _check_guards(fast, ref, atol=1e-4)  # graph capture pools by AvgPool, eager by a reshape-mean: rounding


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("EDAFORMER_TEST_INDUCTOR") != "1",
    reason="inductor compiles C++ for ~5 min on 2 CPU cores: EDAFORMER_TEST_INDUCTOR=1 (make gpu-check runs it)",
)
def test_inductor_compiled_model_matches_eager():
    """What compile=true runs: inductor code, correct after an ISR switch (new sizes: the test above)."""
    model, ref = _pair()
    fast = accelerate(model, compile=True)
    _check_guards(fast, ref, atol=1e-3, new_size=False)


def test_bf16_converts_weights_and_keeps_float32_in_and_out():
    model, ref = _pair(num_classes=19)
    fast = accelerate(model, precision="bf16")
    assert all(p.dtype == torch.bfloat16 for p in unwrap(fast).parameters())
    assert [k.removeprefix("model.") for k in fast.state_dict()] == list(ref.state_dict())
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        out, expected = fast(x), ref(x)
    assert out.dtype == torch.float32
    scale = expected.abs().max()
    assert (out - expected).abs().max() <= 0.1 * scale  # bfloat16 keeps ~3 significant digits
    assert (out.argmax(1) == expected.argmax(1)).float().mean() >= 0.9


@pytest.mark.slow
def test_labels_path_runs_accelerated():
    """``predict`` and the lazy inference modes use the wrapper's ``forward_low_res`` (compiled, bfloat16), never
    the wrapped network directly with float32 input."""
    model, ref = _pair(num_classes=19)
    x = torch.randn(1, 3, 96, 128)
    compiled = accelerate(model, compile=True, backend="eager")
    for isr in ("train", "paper"):
        compiled.set_isr(isr)
        ref.set_isr(isr)
        assert torch.equal(compiled.predict(x), ref.predict(x))
        assert torch.equal(segment_labels(compiled, x), ref.predict(x))
    ref.set_isr("train")
    bf16 = accelerate(unwrap(compiled), precision="bf16")
    bf16.set_isr("train")
    labels = bf16.predict(x, out_size=(50, 70))
    assert labels.shape == (1, 50, 70)
    assert (labels == ref.predict(x, out_size=(50, 70))).float().mean() >= 0.9


def test_segmenter_runs_bf16():
    model = create_model("edaformer_mini", num_classes=NUM_CLASSES).eval()
    seg = Segmenter.build(model, resolve_classes(NUM_CLASSES, dataset=None), device="cpu", precision="bf16")
    assert isinstance(seg.model, AcceleratedModel) and seg.device.type == "cpu"
    label = seg.predict(random_image(50, 70))
    assert label.shape == (50, 70) and label.max() < NUM_CLASSES


@pytest.mark.slow
def test_predict_cli_bf16_matches_fp32_labels(tmp_path, mini_ckpt):
    Image.fromarray(random_image(64, 80)).save(tmp_path / "a.png")
    labels = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        args = [f"ckpt_path={mini_ckpt}", f"inputs={tmp_path / 'a.png'}", f"output_dir={out}", "save=[label]"]
        assert run_main(predict_main, *args, f"precision={precision}", f"hydra.run.dir={out}") == 0
        summary = json.loads((out / "predictions.json").read_text())
        assert summary["precision"] == precision and summary["compile"] is False
        labels[precision] = torch.from_numpy(np.array(Image.open(out / "a_label.png")))
    assert (labels["fp32"] == labels["bf16"]).float().mean() >= 0.9


@pytest.mark.parametrize(
    ("main", "args", "key"),
    [
        (predict_main, ["ckpt_path=x", "inputs=y", "precision=fp16"], "fp16"),
        (predict_main, ["ckpt_path=x", "inputs=y", "compile=maybe"], "maybe"),
        (export_main, ["model=edaformer_mini", "formats=[onnx,torchscript]", "precision=bf16"], "onnx"),
        (export_main, ["model=edaformer_mini", "compile=true"], "compile"),
    ],
)
def test_bad_options_are_one_line_errors(main, args, key, tmp_path, capsys):
    assert run_main(main, *args, f"hydra.run.dir={tmp_path}") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and key in err and "\n" not in err


@pytest.mark.slow
def test_export_bf16_torchscript_matches_the_bf16_model(tmp_path, mini_ckpt, capsys):
    out = tmp_path / "m.torchscript.pt"
    args = [
        f"ckpt_path={mini_ckpt}",
        "formats=[torchscript]",
        "precision=bf16",
        "verify=true",
        f"output={out}",
    ]
    assert run_main(export_main, *args, f"hydra.run.dir={tmp_path}") == 0
    line = capsys.readouterr().out
    assert "bf16" in line and float(line.rsplit("max |diff| vs PyTorch ", 1)[1].split()[0]) <= 1e-3
    loaded = torch.jit.load(str(out))
    assert any(p.dtype == torch.bfloat16 for p in loaded.parameters())
    with torch.no_grad():
        assert loaded(torch.randn(1, 3, 64, 64)).dtype == torch.float32
