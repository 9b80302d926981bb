"""Fixtures for the visualisation tests: one small random EDAFormer-Mini, saved in our checkpoint format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edaformer.checkpoints import save_model
from edaformer.models import create_model

NUM_CLASSES = 6


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return create_model("edaformer_mini", num_classes=NUM_CLASSES).eval()


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory, tiny_model) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "edaformer_mini_demo.pth"
    save_model(tiny_model, path, "edaformer_mini")
    return path


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def image_dir(tmp_path) -> Path:
    """Two valid images of different sizes (one in a subfolder, one grey 16-bit) and one broken file."""
    root = tmp_path / "inputs"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(random_image(40, 70)).save(root / "a.jpg")
    grey16 = (np.random.default_rng(1).random((50, 33)) * 65535).astype(np.uint16)
    Image.fromarray(grey16).save(root / "sub" / "b.png")
    (root / "broken.png").write_bytes(b"definitely not a png")
    return root
