"""Helpers that write tiny datasets in the official layouts, and compose the real ``conf/data`` YAML."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from edaformer.config import register

register()  # the configs' schemas and resolvers (e.g. edaformer_benchmark)

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "conf"


def write_image(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=95)
    return path


def write_mask(path: Path, mask: np.ndarray, palette: bool = False) -> Path:
    """Single-channel PNG (mode L), or a palette PNG (mode P) whose indices are the labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(mask.astype(np.uint8), mode="L")
    if palette:
        img = Image.frombytes("P", img.size, img.tobytes())
        img.putpalette([v for k in range(256) for v in (k, 255 - k, (7 * k) % 256)])
    img.save(path)
    return path


def random_rgb(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def compose_data(name: str, root: Path | str, *overrides: str):
    """Instantiate ``conf/data/<name>.yaml`` exactly as the data commands do (``conf/check_dataset.yaml``)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "check_dataset",
            overrides=[
                f"data={name}",
                f"data.root={root}",
                "data.num_workers=0",
                "data.pin_memory=false",
                *overrides,
            ],
        )
    return instantiate(cfg.data)


def run_command(name: str, *args: str) -> int:
    """``edaformer-<name> *args`` in this process (``name`` is the module of ``edaformer.cli``); its exit status."""
    from tests.conftest import run_main

    return run_main(importlib.import_module(f"edaformer.cli.{name}").main, *args)


# ADE20K: sizes (h, w) and raw masks; raw values 0 ("other"), 1, 2, 150 and 255 occur.
ADE_SIZES = {"training": [(48, 64), (64, 48), (40, 72)], "validation": [(50, 70), (45, 45)]}


def ade_raw_mask(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = rng.choice(np.array([0, 1, 2, 150], np.uint8), size=(h, w))
    mask[: h // 4, : w // 4] = 255
    return mask


@pytest.fixture
def ade_root(tmp_path: Path) -> Path:
    """``tmp/ade/ADEChallengeData2016`` with 3 training and 2 validation pairs (real file names)."""
    base = tmp_path / "ade" / "ADEChallengeData2016"
    rng = np.random.default_rng(0)
    for split, sizes in ADE_SIZES.items():
        prefix = "train" if split == "training" else "val"
        for i, (h, w) in enumerate(sizes):
            name = f"ADE_{prefix}_{i + 1:08d}"
            write_image(base / "images" / split / f"{name}.jpg", random_rgb(rng, h, w))
            write_mask(
                base / "annotations" / split / f"{name}.png", ade_raw_mask(h, w, seed=hash(name) % 1000)
            )
    return tmp_path / "ade"


def cityscapes_polygons(h: int, w: int) -> dict:
    """A real-format ``*_gtFine_polygons.json``: road at the bottom, sky on top, a car, a building."""
    return {
        "imgHeight": h,
        "imgWidth": w,
        "objects": [
            {"label": "sky", "polygon": [[0, 0], [w - 1, 0], [w - 1, h // 4], [0, h // 4]], "deleted": 0},
            {"label": "building", "polygon": [[0, h // 4], [w // 2, h // 4], [w // 2, h // 2], [0, h // 2]]},
            {"label": "road", "polygon": [[0, h // 2], [w - 1, h // 2], [w - 1, h - 1], [0, h - 1]]},
            {
                "label": "car",
                "polygon": [[8, h // 2 + 4], [30, h // 2 + 4], [30, h // 2 + 14], [8, h // 2 + 14]],
            },
            {"label": "ego vehicle", "polygon": [[0, h - 6], [w - 1, h - 6], [w - 1, h - 1], [0, h - 1]]},
        ],
    }


CITY_FRAMES = {
    "train": ["aachen/aachen_000000_000019", "aachen/aachen_000001_000019"],
    "val": ["frankfurt/frankfurt_000000_000294"],
}


@pytest.fixture
def cityscapes_root(tmp_path: Path) -> Path:
    """Cityscapes layout with leftImg8bit PNGs and gtFine polygons only (no labelTrainIds yet)."""
    root = tmp_path / "cityscapes"
    rng = np.random.default_rng(1)
    h, w = 64, 128
    for split, frames in CITY_FRAMES.items():
        for frame in frames:
            write_image(root / "leftImg8bit" / split / f"{frame}_leftImg8bit.png", random_rgb(rng, h, w))
            poly = root / "gtFine" / split / f"{frame}_gtFine_polygons.json"
            poly.parent.mkdir(parents=True, exist_ok=True)
            poly.write_text(json.dumps(cityscapes_polygons(h, w)))
    return root


@pytest.fixture
def dh():
    """The helpers above as one namespace (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(
        CONF_DIR=CONF_DIR,
        REPO=REPO,
        ADE_SIZES=ADE_SIZES,
        CITY_FRAMES=CITY_FRAMES,
        ade_raw_mask=ade_raw_mask,
        cityscapes_polygons=cityscapes_polygons,
        compose_data=compose_data,
        run_command=run_command,
        random_rgb=random_rgb,
        write_image=write_image,
        write_mask=write_mask,
    )
