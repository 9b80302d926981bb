"""Exports: ONNX (run with onnxruntime), TorchScript and torch.export match PyTorch with the ISR baked in."""

from __future__ import annotations

import pytest
import torch

from edaformer.checkpoints import save_model
from edaformer.models import create_model
from edaformer.tools.export import export_program, export_torchscript, min_input_side, onnx_max_abs_diff
from tests.conftest import load_script

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


export_main = load_script("export").main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("edaformer_t", num_classes=19)
    model.decode_head.fuse.bn.running_mean.uniform_(-0.5, 0.5)  # non-trivial BN statistics
    model.decode_head.fuse.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("ckpt") / "edaformer_t.pth"
    save_model(model, path, "edaformer_t")
    return path, model.eval()


def test_min_input_side_follows_isr():
    model = create_model("edaformer_t", num_classes=19)
    assert (
        min_input_side(model) == 32
    )  # training ratios: stage 1 (stride 4) pooled by 8 → 29 px, the model needs 32
    assert min_input_side(model, symbolic=True) == 61  # two stage-1 windows: 4 · (2·8 − 1) + 1
    model.set_isr("paper")
    assert min_input_side(model) == 61  # stage 1 pooled by 16: 4 · 15 + 1
    assert min_input_side(model, symbolic=True) == 125


@pytest.mark.parametrize("isr", ["train", "paper"])
def test_onnx_cli_matches_pytorch(tmp_path, checkpoint, capsys, isr):
    """The documented command, with dynamic batch/H/W: other sizes (not multiples of 32) and batch 2 match."""
    ckpt, model = checkpoint
    out = tmp_path / f"t_{isr}.onnx"
    argv = ["--model", "edaformer_t", "--ckpt", str(ckpt), "--isr", isr, "--format", "onnx"]
    assert export_main([*argv, "--exporter", "torchscript", "--output", str(out)]) == 0
    assert "sides >=" in capsys.readouterr().out
    model.set_isr(isr)
    side = min_input_side(model)
    sizes = [(side, side + 35), (131, 200)]
    assert onnx_max_abs_diff(out, model, sizes, batch=2) <= 1e-4
    # the ISR setting is baked in: the graph does not follow a later set_isr on the eager model
    model.set_isr("aggressive" if isr == "train" else "train")
    assert onnx_max_abs_diff(out, model, [(131, 200)]) > 1e-3
    model.set_isr("train")


def test_torchscript_and_exported_program(tmp_path, checkpoint):
    _, model = checkpoint
    model.set_isr("dec2x")
    ts = torch.jit.load(str(export_torchscript(model, tmp_path / "m.torchscript.pt")))
    ep = torch.export.load(str(export_program(model, tmp_path / "m.pt2"))).module()
    side = min_input_side(model, symbolic=True)  # the .pt2 program checks its input range: 121 for dec2x
    x = torch.randn(2, 3, side + 3, 136)  # neither the tracing size nor multiples of 32
    with torch.no_grad():
        ref = model(x)
        assert (
            (ts(x) - ref).abs().max() <= 1e-4
        )  # float32 rounding: the eager path pools by a reshape-mean, graphs by AveragePool
        assert (
            (ep(x) - ref).abs().max() <= 1e-4
        )  # float32 rounding: the eager path pools by a reshape-mean, graphs by AveragePool
    model.set_isr("train")


def test_export_cli_errors(tmp_path):
    with pytest.raises(SystemExit, match="unknown 'tflite'"):
        export_main(["--format", "tflite"])
    with pytest.raises(SystemExit, match="one file"):
        export_main(["--format", "onnx,torchscript", "--output", str(tmp_path / "x.onnx")])
