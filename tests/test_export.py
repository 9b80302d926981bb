"""Exports: ONNX (run with onnxruntime), TorchScript and torch.export match PyTorch with the ISR baked in."""

from __future__ import annotations

import pytest
import torch

from edaformer.checkpoints import save_model
from edaformer.models import create_model
from edaformer.tools.export import export_program, export_torchscript, min_input_side, onnx_max_abs_diff
from tests.conftest import run_main

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


from edaformer.cli.export import main as export_main  # noqa: E402 (after the importorskips)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("edaformer_t", num_classes=19)
    model.decode_head.fuse.bn.running_mean.uniform_(-0.5, 0.5)  # non-trivial BN statistics
    model.decode_head.fuse.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("ckpt") / "edaformer_t.pth"
    save_model(model, path, "edaformer_t")
    return path, model.eval()


@pytest.mark.slow
def test_min_input_side_follows_isr():
    model = create_model("edaformer_t", num_classes=19)
    assert (
        min_input_side(model) == 32
    )  # training ratios: stage 1 (stride 4) pooled by 8 → 29 px, the model needs 32
    assert min_input_side(model, symbolic=True) == 61  # two stage-1 windows: 4 · (2·8 − 1) + 1
    model.set_isr("paper")
    assert min_input_side(model) == 61  # stage 1 pooled by 16: 4 · 15 + 1
    assert min_input_side(model, symbolic=True) == 125


@pytest.mark.slow
@pytest.mark.parametrize("isr", ["train", "paper"])
def test_onnx_cli_matches_pytorch(tmp_path, checkpoint, capsys, isr):
    """The documented command, with dynamic batch/H/W: other sizes (not multiples of 32) and batch 2 match.
    Without isr= the model keeps its training ratios ("train" here)."""
    ckpt, model = checkpoint
    out = tmp_path / f"t_{isr}.onnx"
    args = ["model=edaformer_t", f"ckpt_path={ckpt}", "formats=[onnx]", "exporter=torchscript"]
    args += [f"isr={isr}"] if isr != "train" else []
    assert run_main(export_main, *args, f"output={out}", f"hydra.run.dir={tmp_path}") == 0
    assert "sides >=" in capsys.readouterr().out
    model.set_isr(isr)
    side = min_input_side(model)
    sizes = [(side, side + 35), (131, 200)]
    assert onnx_max_abs_diff(out, model, sizes, batch=2) <= 1e-4
    # the ISR setting is baked in: the graph does not follow a later set_isr on the eager model
    model.set_isr("aggressive" if isr == "train" else "train")
    assert onnx_max_abs_diff(out, model, [(131, 200)]) > 1e-3
    model.set_isr("train")


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["formats=[tflite]"], "formats=[tflite]"),
        (["formats=[onnx,torchscript]", "output=x.onnx"], "output= names one file"),
        (["ckpt_path=/nonexistent.pth"], "ckpt_path does not exist: /nonexistent.pth"),
        (["model=eft_t"], "eft_t: export takes a segmentor"),
        (["size=[16,16]"], "size=[16,16]: sides must be >= 32"),
    ],
)
def test_export_cli_errors(args, message, tmp_path, capsys):
    assert run_main(export_main, *args, f"hydra.run.dir={tmp_path}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {message}"] or (len(err) == 1 and message in err[0]), err


@pytest.mark.slow
def test_export_random_weights_into_the_run_dir(tmp_path, capsys):
    """Without ckpt_path: the model config's network with random weights; the file name says model and ISR."""
    args = [
        "model=edaformer_t",
        "num_classes=5",
        "isr=paper",
        "formats=[torchscript]",
        f"hydra.run.dir={tmp_path}",
    ]
    assert run_main(export_main, *args, "verify=true") == 0
    path = tmp_path / "edaformer_t_16_8_2_1-2_4_8.torchscript.pt"
    assert path.is_file() and "max |diff| vs PyTorch" in capsys.readouterr().out
    with torch.no_grad():
        assert torch.jit.load(str(path))(torch.randn(1, 3, 64, 64)).shape == (1, 5, 64, 64)
