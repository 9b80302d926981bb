"""Weights holding NaN are refused by every command that loads a model, as ``edaformer-eval`` does: one
``error:`` line, exit status 1 (a result that must not be reported, not a mistake in the arguments), no output."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from PIL import Image

from edaformer.checkpoints import load_model, save_model
from edaformer.errors import NonFiniteError
from edaformer.models import create_model
from tests.cli.helpers import one_error_line
from tests.conftest import run_main


@pytest.fixture(scope="module")
def nan_weights(tmp_path_factory):
    model = create_model("edaformer_mini", num_classes=6)
    with torch.no_grad():
        model.decode_head.classifier.weight.fill_(float("nan"))
    path = tmp_path_factory.mktemp("nan") / "diverged.pt"
    save_model(model, path, "edaformer_mini")
    return path


def test_load_model_refuses_nan_weights(nan_weights):
    with pytest.raises(NonFiniteError, match="decode_head.classifier.weight"):
        load_model(nan_weights)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["export", "visualize_attention", "predict"])
def test_commands_refuse_nan_weights(command, nan_weights, tmp_path, capsys):
    image = tmp_path / "photo.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(image)
    args = {
        "predict": [f"inputs={image}", f"output_dir={tmp_path / 'out'}", "device=cpu"],
        "export": ["formats=[torchscript]", "verify=true", f"output_dir={tmp_path / 'out'}"],
        "visualize_attention": [
            f"image={image}",
            f"output={tmp_path / 'out' / 'attention.png'}",
            "device=cpu",
        ],
    }[command]
    main = importlib.import_module(f"edaformer.cli.{command}").main
    status = run_main(main, f"ckpt_path={nan_weights}", *args)
    assert status == 1 and "NaN" in one_error_line(capsys.readouterr().err)
    assert not any((tmp_path / "out").rglob("*.*"))


@pytest.mark.slow
def test_convert_says_what_our_own_files_are(tmp_path, capsys):
    """``edaformer-convert`` reads the authors' checkpoints; given one of ours (a training checkpoint, our .pt, a
    hub folder) it says what the file is, in one line, exit 2, and writes nothing."""
    from edaformer.cli.convert_official import main

    model = create_model("edaformer_mini", num_classes=3)
    save_model(model, tmp_path / "ours.pt", "edaformer_mini")
    model.save_pretrained(tmp_path / "hub")
    hparams = {"model_name": "edaformer_mini", "num_classes": 3}
    state = {f"net.{k}": v for k, v in model.state_dict().items()}
    lightning = {
        "pytorch-lightning_version": "2",
        "state_dict": state,
        "hyper_parameters": hparams,
        "global_step": 8,
    }
    torch.save(lightning, tmp_path / "last.ckpt")
    for given, named in (("last.ckpt", "step 8"), ("ours.pt", "edaformer_mini"), ("hub", "hub folder")):
        status = run_main(main, f"ckpt_path={tmp_path / given}", f"output={tmp_path / 'out.pt'}")
        assert status == 2 and named in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out.pt").exists()
