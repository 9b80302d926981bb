"""Hub folders through the commands: the authors' file → hub folder (edaformer-convert format=hf), and every loader
(eval, predict, export) taking a folder or a repo id; the offline Hub as a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from PIL import Image

from edaformer.cli.convert_official import main as convert_main
from edaformer.cli.eval import main as eval_main
from edaformer.cli.export import main as export_main
from edaformer.cli.predict import main as predict_main
from edaformer.data.classes import load_classes
from edaformer.data.demo import DEMO_CLASSES, DEMO_PALETTE
from edaformer.models import EDAFormer, create_model
from tests.conftest import random_official_state_dict, run_main

from .helpers import one_error_line, tiny_eval


@pytest.fixture(scope="module")
def demo_hub(tmp_path_factory):
    """A 6-class EDAFormer-Mini hub folder for the demo data, default inference ISR ``paper``."""
    folder = tmp_path_factory.mktemp("hub") / "edaformer_mini_demo"
    torch.manual_seed(0)
    model = create_model("edaformer_mini", num_classes=6, isr="paper")
    config = {
        "class_names": list(DEMO_CLASSES),
        "palette": [list(c) for c in DEMO_PALETTE],
        "dataset": "demo",
    }
    model.save_pretrained(folder, config={**config, "input_size": [64, 64]})
    return folder


@pytest.mark.slow
def test_convert_the_authors_file_to_a_hub_folder(tmp_path, capsys):
    official = tmp_path / "edaformer_t_ade20k.pth"
    torch.save({"state_dict": random_official_state_dict("t"), "meta": {}}, official)
    out = tmp_path / "edaformer_t_ade20k"
    assert run_main(convert_main, f"ckpt_path={official}", f"output={out}", "format=hf") == 0
    assert "dropped 2 unused official tensors: decode_head.conv_seg" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    ade = load_classes("ade20k")
    assert config["class_names"] == ade.names and config["palette"] == [list(c) for c in ade.palette]
    assert config["dataset"] == "ade20k" and config["input_size"] == [512, 512]
    assert config["isr"] == config["train_isr"] == "8,4,2,1-1,2,4"
    card = ModelCard.load(out / "README.md")
    assert "| `paper` | 16,8,2,1-2,4,8 | 4.93 | 4.71 |" in card.text  # the paper's 4.7 GFLOPs at 512x512
    assert "the authors' release (MMSegmentation checkpoint `edaformer_t_ade20k.pth`)" in card.text
    # the weights are the authors': the same logits as loading their file directly
    from edaformer.checkpoints import load_model

    direct, _ = load_model(official)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(EDAFormer.from_pretrained(out)(x), direct(x))
    # never overwritten unless asked
    assert run_main(convert_main, f"ckpt_path={official}", f"output={out}", "format=hf") == 2
    assert f"output={out}" in one_error_line(capsys.readouterr().err)


@pytest.mark.slow
def test_eval_and_predict_take_a_hub_folder(demo_hub, demo_data_dir, tmp_path):
    args = [f"ckpt_path={demo_hub}", *tiny_eval(demo_data_dir), f"hydra.run.dir={tmp_path / 'eval'}"]
    assert run_main(eval_main, *args) == 0
    row = json.loads((tmp_path / "eval" / "results.json").read_text())["results"][0]
    assert row["checkpoint_kind"] == "hub" and row["model"] == "edaformer_mini"
    assert row["isr"] == "8,4,2,1-1,2,4"  # eval's isr=own default; the folder's paper is its own default
    # every evaluation saves its confusion matrix: counts and the row-normalised picture with class names
    counts = (tmp_path / "eval" / "confusion_train.csv").read_text().splitlines()
    assert counts[0] == "label \\ prediction," + ",".join(DEMO_CLASSES) and len(counts) == 7
    assert Image.open(tmp_path / "eval" / "confusion_train.png").size[0] > 500

    images = tmp_path / "photos"
    images.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(
        images / "a.png"
    )
    out = tmp_path / "pred"
    assert run_main(predict_main, f"ckpt_path={demo_hub}", f"inputs={images}", f"output_dir={out}") == 0
    summary = json.loads((out / "predictions.json").read_text())
    assert summary["classes"] == list(DEMO_CLASSES) and summary["isr"] == "16,8,2,1-2,4,8"
    assert summary["palette"] == [list(c) for c in DEMO_PALETTE]


@pytest.mark.slow
def test_export_a_hub_folder_from_a_hub_folder(demo_hub, tmp_path, capsys):
    out = tmp_path / "aggressive"
    args = [f"ckpt_path={demo_hub}", "isr=aggressive", "formats=[hf]", f"output={out}", "verify=true"]
    assert run_main(export_main, *args, f"hydra.run.dir={tmp_path / 'run'}") == 0
    line = capsys.readouterr().out
    assert f"hf: {out} (README.md, config.json, model.safetensors; ISR 16,8,4,2-2,4,8)" in line
    assert "max |diff| after reloading 0.00e+00" in line
    config = json.loads((out / "config.json").read_text())
    assert config["isr"] == "16,8,4,2-2,4,8" and config["class_names"] == list(DEMO_CLASSES)  # metadata kept
    assert run_main(export_main, *args, f"hydra.run.dir={tmp_path / 'run'}") == 2  # never overwritten
    assert str(out) in one_error_line(capsys.readouterr().err)


@pytest.mark.slow
@pytest.mark.parametrize("main", [eval_main, predict_main, export_main], ids=["eval", "predict", "export"])
def test_an_unreachable_repo_id_is_one_line_naming_it(main, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    args = ["ckpt_path=someone/edaformer-t-ade20k", f"hydra.run.dir={tmp_path / 'run'}"]
    if main is predict_main:
        Image.new("RGB", (40, 40)).save(tmp_path / "a.png")
        args.append(f"inputs={tmp_path / 'a.png'}")
    status = run_main(main, *args)
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and "someone/edaformer-t-ade20k" in line and "HF_HUB_OFFLINE" in line
