"""DataModules built in plain Python train as they are: the same batches as through Hydra's configs, and the
recipe's sizes from edaformer.data.benchmarks (issue: DataModules without Hydra)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from edaformer.data import (
    ADE20KDataModule,
    CityscapesDataModule,
    COCOStuffDataModule,
    CustomSegDataModule,
    DemoDataModule,
    ImageNetDataModule,
)
from edaformer.data.benchmarks import BENCHMARKS


@pytest.fixture
def city_root(tmp_path: Path, dh) -> Path:
    """Cityscapes with its labelTrainIds already written (what edaformer-prepare-cityscapes leaves)."""
    rng = np.random.default_rng(5)
    for split, frames in dh.CITY_FRAMES.items():
        for frame in frames:
            dh.write_image(
                tmp_path / "leftImg8bit" / split / f"{frame}_leftImg8bit.png", dh.random_rgb(rng, 64, 128)
            )
            ids = rng.choice(np.array([0, 2, 10, 255], np.uint8), size=(64, 128))
            dh.write_mask(tmp_path / "gtFine" / split / f"{frame}_gtFine_labelTrainIds.png", ids)
    return tmp_path


@pytest.fixture
def custom_root(tmp_path: Path, dh) -> Path:
    rng = np.random.default_rng(6)
    for split, count in (("train", 2), ("val", 1)):
        for i in range(count):
            dh.write_image(tmp_path / "images" / split / f"{i}.jpg", dh.random_rgb(rng, 40, 56))
            dh.write_mask(tmp_path / "annotations" / split / f"{i}.png", rng.integers(0, 2, (40, 56)))
    return tmp_path


def batches(dm) -> tuple[dict, dict]:
    """The first training and validation batch of ``dm``, drawn after seeding everything with 0."""
    L.seed_everything(0, verbose=False)
    return next(iter(dm.train_dataloader())), next(iter(dm.val_dataloader()))


def assert_same_batches(a, b) -> None:
    for x, y in zip(batches(a), batches(b)):
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])


CASES = {
    "ade20k": (ADE20KDataModule, {}),
    "cityscapes": (CityscapesDataModule, {}),
    "custom": (CustomSegDataModule, {"class_names": ["background", "roof"]}),
    "demo": (DemoDataModule, {"num_train": 8, "num_val": 2}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_python_equals_the_hydra_config(name, request, tmp_path, dh):
    root = {
        "ade20k": lambda: request.getfixturevalue("ade_root"),
        "cityscapes": lambda: request.getfixturevalue("city_root"),
        "custom": lambda: request.getfixturevalue("custom_root"),
        "demo": lambda: tmp_path / "demo",
    }[name]()
    cls, kwargs = CASES[name]
    small = {"batch_size": 2, "crop_size": [96, 96]}  # the same two overrides on both sides
    plain = cls(root, num_workers=0, **kwargs, **small)
    hydra_args = [f"data.{k}={v}".replace(" ", "") for k, v in {**kwargs, **small}.items()]
    hydra = dh.compose_data(name, root, *hydra_args)
    assert type(hydra) is cls
    assert (plain.crop_size, plain.test_scale) == (hydra.crop_size, hydra.test_scale)
    assert [type(op) for op in plain.train_pipeline] == [type(op) for op in hydra.train_pipeline]
    assert_same_batches(plain, hydra)


@pytest.mark.parametrize(
    ("cls", "recipe"),
    [
        (ADE20KDataModule, "ade20k"),
        (CityscapesDataModule, "cityscapes"),
        (COCOStuffDataModule, "coco_stuff"),
        (DemoDataModule, "demo"),
    ],
)
def test_defaults_are_the_recipe_of_the_benchmark(cls, recipe, tmp_path):
    dm = cls(tmp_path)
    row = BENCHMARKS[recipe]
    assert (dm.crop_size, dm.test_scale, dm.batch_size) == (
        row.train_crop,
        row.test_scale,
        row.batch_per_gpu["t"],
    )
    assert dm.num_classes == row.num_classes and dm.class_names == row.classes.names
    rescale, crop = dm.train_pipeline[:2]
    assert rescale.scale == row.test_scale and rescale.ratio_range == row.ratio_range
    assert (crop.height, crop.width) == row.train_crop
    assert dm.val_pipeline[0].scale == row.test_scale


def test_custom_starts_from_the_ade20k_recipe_and_parts_change(tmp_path):
    dm = CustomSegDataModule(tmp_path, class_names=["a", "b"])
    assert (dm.crop_size, dm.test_scale) == (BENCHMARKS["ade20k"].train_crop, BENCHMARKS["ade20k"].test_scale)
    names = [type(op).__name__ for op in dm.train_pipeline]
    assert names == [
        "RandomRescale",
        "RandomCropCatMax",
        "HorizontalFlip",
        "PhotoMetricDistortion",
        "Normalize",
        "PadIfNeeded",
    ]
    changed = CustomSegDataModule(
        tmp_path,
        class_names=["a", "b"],
        flip_prob=0,
        photometric=False,
        cat_max_ratio=1.0,
        ratio_range=(1, 1),
    )
    rescale, crop, flip = changed.train_pipeline[:3]
    assert flip.p == 0 and crop.cat_max_ratio == 1.0 and rescale.ratio_range == (1.0, 1.0)
    assert "PhotoMetricDistortion" not in [type(op).__name__ for op in changed.train_pipeline]
    assert CustomSegDataModule(tmp_path, class_names=["a"], train_pipeline=[]).train_pipeline == []


def test_a_dict_for_a_pipeline_names_the_arguments(tmp_path):
    """``+data.train_pipeline.2.p=0`` (the old way to change one op) builds a dict: the error names the new way."""
    with pytest.raises(TypeError, match="flip_prob"):
        ADE20KDataModule(tmp_path, train_pipeline={"2": {"p": 0}})


def test_imagenet_builds_deits_pipelines(tmp_path):
    dm = ImageNetDataModule(tmp_path)
    assert [type(op).__name__ for op in dm.train_pipeline] == [
        "RandomResizedCrop",
        "HorizontalFlip",
        "RandAugment",
        "Normalize",
        "RandomErasing",
    ]
    ra, erase = dm.train_pipeline[2], dm.train_pipeline[4]
    assert (ra.num_ops, ra.magnitude, ra.magnitude_std, ra.op_prob) == (
        2,
        9,
        0.5,
        0.5,
    )  # rand-m9-mstd0.5-inc1
    assert erase.p == 0.25
    assert [type(op).__name__ for op in dm.val_pipeline] == ["SmallestMaxSize", "CenterCrop", "Normalize"]


@pytest.mark.slow
def test_the_example_of_docs_datamodules_trains_another_model(tmp_path, monkeypatch):
    """Runs the Python block of docs/datamodules.md as written: a plain network trains on DemoDataModule's batches."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "datamodules.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_datamodules"}
    exec(compile(code, "docs/datamodules.md", "exec"), namespace)
    trainer = namespace["trainer"]
    assert trainer.global_step == 3 and torch.isfinite(trainer.callback_metrics["val_loss"])
    assert (tmp_path / "data" / "demo").is_dir()
