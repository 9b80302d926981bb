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
    model = create_model("edaformer_mini", num_classes=19)
    model.decode_head.fuse.bn.running_mean.uniform_(-0.5, 0.5)  # non-trivial BN statistics
    model.decode_head.fuse.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("ckpt") / "edaformer_mini.pth"
    save_model(model, path, "edaformer_mini")
    return path, model.eval()


def test_min_input_side_follows_isr():
    model = create_model("edaformer_mini", num_classes=19)
    # training ratios: stage 1 (stride 4) pooled by 8 → 29 px, the model needs 32
    assert min_input_side(model) == 32
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
    out = tmp_path / f"mini_{isr}.onnx"
    args = ["model=edaformer_mini", f"ckpt_path={ckpt}", "formats=[onnx]", "exporter=torchscript"]
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
        # float32 rounding: the eager path pools by a reshape-mean, graphs by AveragePool
        assert (ts(x) - ref).abs().max() <= 1e-4
        assert (ep(x) - ref).abs().max() <= 1e-4
    model.set_isr("train")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["formats=[tflite]"], "tflite"),
        (["formats=[onnx,torchscript]", "output=x.onnx"], "output"),
        (["ckpt_path=/nonexistent.pth"], "/nonexistent.pth"),
        (["model=eft_mini"], "eft_mini"),
        (["size=[16,16]"], "size"),
    ],
)
def test_export_cli_errors(args, key, tmp_path, capsys):
    assert run_main(export_main, "model=edaformer_mini", *args, f"hydra.run.dir={tmp_path}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and key in err[0], err
    assert not any(tmp_path.glob("*.onnx")) and not any(tmp_path.glob("*.pt"))


@pytest.mark.slow
def test_export_random_weights_into_the_run_dir(tmp_path, capsys):
    """Without ckpt_path: the model config's network with random weights; the file name says model and ISR."""
    args = [
        "model=edaformer_mini",
        "num_classes=5",
        "isr=paper",
        "formats=[torchscript]",
        f"hydra.run.dir={tmp_path}",
    ]
    assert run_main(export_main, *args, "verify=true") == 0
    path = tmp_path / "edaformer_mini_16_8_2_1-2_4_8.torchscript.pt"
    assert path.is_file() and "max |diff| vs PyTorch" in capsys.readouterr().out
    with torch.no_grad():
        assert torch.jit.load(str(path))(torch.randn(1, 3, 64, 64)).shape == (1, 5, 64, 64)


def test_exporter_logs_hidden_unless_verbose(caplog):
    """edaformer-export verbose=false (the default) hides the exporters' per-pass INFO lines; verbose=true shows them."""
    import logging

    from edaformer.tools.export import exporter_logs

    with caplog.at_level(logging.INFO), exporter_logs(verbose=False):
        logging.getLogger("onnx_ir.passes.common").info("hidden")
    with caplog.at_level(logging.INFO), exporter_logs(verbose=True):
        logging.getLogger("onnx_ir.passes.common").info("shown")
    assert [r.getMessage() for r in caplog.records] == ["shown"]
