"""Fine-tuning on your own classes (docs/finetune.md): from a 150-class checkpoint to a 3-class custom folder, and
``EDAFormer.from_pretrained(w, num_classes=K)``; everything but the classifier comes from the weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edaformer.checkpoints import load_model, load_weights, save_model
from edaformer.cli.train import main as train_main
from edaformer.evaluation import Segmenter
from edaformer.models import EDAFormer, create_model
from tests.cli.helpers import QUIET
from tests.conftest import run_main

CLASSES = ["background", "red", "blue"]


def shapes_folder(root: Path, counts: dict[str, int]) -> Path:
    """The custom layout of docs/finetune.md: ``images/<split>/NAME.jpg`` + ``annotations/<split>/NAME.png``,
    grey noise with one red and one blue rectangle (classes 1, 2) per 64x96 image."""
    rng = np.random.default_rng(0)
    for split, count in counts.items():
        for i in range(count):
            image = rng.integers(60, 120, (64, 96, 3)).astype(np.uint8)
            mask = np.zeros((64, 96), np.uint8)
            for cls, color in ((1, (220, 40, 40)), (2, (40, 60, 220))):
                y, x, h, w = (
                    rng.integers(0, 44),
                    rng.integers(0, 72),
                    rng.integers(12, 20),
                    rng.integers(14, 24),
                )
                image[y : y + h, x : x + w], mask[y : y + h, x : x + w] = color, cls
            for kind, array, ext in (("images", image, ".jpg"), ("annotations", mask, ".png")):
                path = root / kind / split / f"{i:03d}{ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path)
    return root


@pytest.fixture(scope="module")
def ade_like_checkpoint(tmp_path_factory) -> Path:
    """A 150-class EDAFormer-Mini in our format (stands for the authors' ADE20K EDAFormer-T)."""
    path = tmp_path_factory.mktemp("weights") / "edaformer_mini_ade20k.pt"
    save_model(create_model("edaformer_mini", num_classes=150), path, "edaformer_mini")
    return path


@pytest.mark.slow
def test_finetune_from_150_classes_to_a_3_class_folder(ade_like_checkpoint, tmp_path):
    """The walk-through's command: the run starts from every weight but the classifier, says so in one line
    naming both class counts, trains and evaluates on the 3 classes."""
    data = shapes_folder(tmp_path / "shapes", {"train": 8, "val": 2})
    run_dir = tmp_path / "run"
    args = [
        "model=edaformer_mini",
        "data=custom",
        f"data.root={data}",
        f"data.class_names=[{','.join(CLASSES)}]",
        f"model.init_from={ade_like_checkpoint}",
        f"hydra.run.dir={run_dir}",
        "data.crop_size=[64,64]",
        "data.test_scale=[96,64]",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "data.pin_memory=false",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "trainer.accelerator=cpu",
        "model.scheduler.warmup_steps=1",
        "final_eval.isr=[own]",
        "flops_size=[64,64]",
        "logger=csv",
        *QUIET,
    ]
    assert run_main(train_main, *args) == 0
    lines = [line for line in (run_dir / "train.log").read_text().splitlines() if "classifier" in line]
    n = len(create_model("edaformer_mini", num_classes=3).state_dict())
    assert (
        len(lines) == 1 and f"{n - 2} of {n} tensors" in lines[0] and "150" in lines[0] and " 3" in lines[0]
    )
    tuned, info = load_model(run_dir / "checkpoints" / "last.ckpt")
    assert (info.num_classes, info.class_names) == (3, tuple(CLASSES))
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2 and tuned(torch.rand(1, 3, 64, 64)).shape[1] == 3
    # the one-liner applies the run's own recipe: its classes and the test scale it was evaluated at
    seg = Segmenter.from_pretrained(run_dir / "checkpoints" / "last.ckpt", device="cpu")
    assert seg.classes.names == CLASSES and seg.test_scale == (96, 64)
    assert seg(data / "images" / "val" / "000.jpg").shape == (64, 96)


def test_every_weight_but_the_classifier_comes_from_the_checkpoint(ade_like_checkpoint, tmp_path, caplog):
    """``load_weights`` (``model.init_from``) and ``EDAFormer.from_pretrained(w, num_classes=K)``: the
    checkpoint's tensors everywhere but in the classifier, a classifier of the new size, its metadata dropped."""
    source = load_model(ade_like_checkpoint)[0]
    source.save_pretrained(tmp_path / "hub", config={"class_names": [f"c{k}" for k in range(150)]})
    torch.manual_seed(1)
    target = create_model("edaformer_mini", num_classes=3)
    report = load_weights(target, ade_like_checkpoint, "edaformer_mini")
    tuned = EDAFormer.from_pretrained(tmp_path / "hub", num_classes=3)
    assert "\n" not in report and "150" in report and "3" in report
    assert sum("150" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1
    for model in (target, tuned):
        state = model.state_dict()
        kept = {k: v for k, v in source.state_dict().items() if not k.startswith("decode_head.classifier.")}
        assert all(torch.equal(state[k], v) for k, v in kept.items())
        assert state["decode_head.classifier.weight"].shape[0] == 3 and model.num_classes == 3
    assert tuned.hub_metadata["class_names"] is None and tuned.model_args["num_classes"] == 3
    tuned.save_pretrained(tmp_path / "hub3")
    assert EDAFormer.from_pretrained(tmp_path / "hub3").num_classes == 3


def test_an_imagenet_encoder_starts_the_encoder_only(tmp_path):
    """``model.init_from`` given an ImageNet EFT classifier fills the encoder; decoder and classifier are new."""
    encoder_source = create_model("eft_mini")
    encoder_source.save_pretrained(tmp_path / "eft")
    target = create_model("edaformer_mini", num_classes=3)
    report = load_weights(target, tmp_path / "eft")
    assert "encoder" in report and "\n" not in report
    assert all(
        torch.equal(target.encoder.state_dict()[k], v) for k, v in encoder_source.encoder.state_dict().items()
    )
