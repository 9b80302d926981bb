"""A small synthetic street-scene dataset, generated on first use in the ADE20K layout.

Nothing to download, so ``python train.py`` works out of the box, yet the scenes need shape, texture and
context to segment: every object's colour is drawn at random (colour never tells the class), sky and
ground differ in texture and position, balloons and rocks are both round blobs told apart by outline,
shading and where they are (in the sky or on the ground), buildings carry a window grid, trees are a
trunk under a speckled canopy. Strings of balloons and small clutter shapes are labelled 0 ("other"), which
the reduce-zero-label convention turns into the ignore index, exactly as in ADE20K.

Generation is deterministic (one seed per image), takes about a second, writes into a temporary folder
that is renamed into place (a crash never leaves half a dataset) and holds a file lock, so several
processes (DDP ranks) may call :func:`ensure_demo_dataset` at once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from filelock import FileLock

from edaformer.data.classes import load_classes
from edaformer.data.datamodules import ADE20KDataModule
from edaformer.data.io import DatasetError, LabelMap

__all__ = ["DEMO_CLASSES", "DEMO_PALETTE", "DemoDataModule", "ensure_demo_dataset", "render_scene"]

DEMO_CLASSES: list[str] = load_classes("demo").names  # sky, ground, building, tree, balloon, rock
DEMO_PALETTE: list[tuple[int, int, int]] = load_classes("demo").palette
# Raw ids in the PNGs (train id + 1, the order of edaformer/data/meta/demo.json); 0 = "other", ignored.
SKY, GROUND, BUILDING, TREE, BALLOON, ROCK = range(1, 7)
DEMO_VERSION = 1
_FOLDER = "ADEChallengeData2016"
_MARKER = "edaformer_demo.json"


def _random_color(rng: np.random.Generator, lo: int = 40, hi: int = 230) -> np.ndarray:
    return rng.integers(lo, hi, size=3).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Zero-mean noise in [-1, 1] varying over about ``cells`` blobs per side."""
    grid = rng.uniform(-1, 1, size=(cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _paint(
    image: np.ndarray, label: np.ndarray, region: np.ndarray, texture: np.ndarray, raw_id: int
) -> None:
    """Copy ``texture`` into ``image`` and ``raw_id`` into ``label`` where ``region`` is set."""
    sel = region.astype(bool)
    image[sel] = texture[sel]
    label[sel] = raw_id


def render_scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(RGB uint8 [H, W, 3], raw labels uint8 [H, W])`` with raw ids 0..6 (see module doc)."""
    h, w = height, width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.zeros((h, w, 3), np.float32)
    label = np.zeros((h, w), np.uint8)

    # Horizon: a gently wavy line between 35 % and 60 % of the height.
    base = rng.uniform(0.35, 0.6) * h
    amp, freq, phase = rng.uniform(0, 0.06 * h), rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
    horizon = base + amp * np.sin(2 * np.pi * freq * xx[0] / w + phase)  # [W]
    sky = yy < horizon[None, :]

    # Sky: smooth vertical gradient between two random colours plus soft "clouds".
    top, bottom = _random_color(rng), _random_color(rng)
    t = (yy / max(base, 1.0)).clip(0, 1)[..., None]
    sky_tex = top * (1 - t) + bottom * t + 25 * _smooth_noise(rng, h, w, 3)[..., None]
    # Ground: random colour with strong high-frequency grain and horizontal streaks.
    ground_col = _random_color(rng)
    grain = rng.normal(0, 22, size=(h, w, 1)).astype(np.float32)
    streaks = rng.normal(0, 14, size=(h, 1, 1)).astype(np.float32)
    ground_tex = ground_col + grain + streaks + 20 * _smooth_noise(rng, h, w, 8)[..., None]
    _paint(image, label, sky, sky_tex, SKY)
    _paint(image, label, ~sky, ground_tex, GROUND)

    def horizon_at(x: float) -> int:
        return int(horizon[int(np.clip(x, 0, w - 1))])

    # Buildings: rectangles standing on the horizon, with a grid of windows of contrasting brightness.
    for _ in range(rng.integers(1, 4)):
        bw, bh = int(rng.uniform(0.15, 0.35) * w), int(rng.uniform(0.2, 0.45) * h)
        x0 = int(rng.uniform(-0.1, 0.9) * w)
        foot = horizon_at(x0 + bw / 2) + int(rng.integers(2, 8))
        region = np.zeros((h, w), np.uint8)
        cv2.rectangle(region, (x0, foot - bh), (x0 + bw, foot), 1, -1)
        wall = _random_color(rng)
        tex = np.broadcast_to(wall, (h, w, 3)).copy() + rng.normal(0, 6, (h, w, 1)).astype(np.float32)
        pitch, size = int(rng.integers(6, 10)), int(rng.integers(2, 4))
        windows = ((xx - x0) % pitch < size) & ((yy - foot) % pitch < size)
        shift = 70.0 if wall.mean() < 128 else -70.0
        tex[windows] += shift
        _paint(image, label, region, tex, BUILDING)

    # Trees: a trunk under a round canopy, both one class; the canopy is densely speckled.
    for _ in range(rng.integers(1, 4)):
        cx = int(rng.uniform(0.05, 0.95) * w)
        foot = horizon_at(cx) + int(rng.integers(2, 10))
        trunk_h, radius = int(rng.integers(8, 16)), int(rng.integers(10, 20))
        region = np.zeros((h, w), np.uint8)
        cv2.rectangle(region, (cx - 2, foot - trunk_h), (cx + 2, foot), 1, -1)
        cv2.circle(region, (cx, foot - trunk_h - radius + 3), radius, 1, -1)
        speckle = (rng.random((h, w)) < 0.3).astype(np.float32)[..., None]
        tex = _random_color(rng, 30, 200) + 60 * speckle - 30 + rng.normal(0, 8, (h, w, 1)).astype(np.float32)
        _paint(image, label, region, tex, TREE)

    # Rocks: flat ellipses lying on the ground, speckled and darker at the bottom.
    for _ in range(rng.integers(1, 5)):
        ax, ay = int(rng.integers(10, 24)), int(rng.integers(6, 12))
        cx = int(rng.uniform(0.05, 0.95) * w)
        cy = int(rng.uniform(horizon_at(cx) + ay + 2, h + ay * 0.5))
        region = np.zeros((h, w), np.uint8)
        cv2.ellipse(region, (cx, cy), (ax, ay), 0, 0, 360, 1, -1)
        shade = ((yy - cy) / ay).clip(-1, 1)[..., None]
        tex = _random_color(rng) - 35 * shade + rng.normal(0, 18, (h, w, 1)).astype(np.float32)
        _paint(image, label, region, tex, ROCK)

    # Balloons: round, smooth, with a bright highlight, floating in the sky on an (ignored) string.
    for _ in range(rng.integers(1, 4)):
        r = int(rng.integers(7, 15))
        cx = int(rng.uniform(0.08, 0.92) * w)
        top_limit = horizon_at(cx) - r - 12
        if top_limit <= r + 2:
            continue
        cy = int(rng.uniform(r + 2, top_limit))
        string = np.zeros((h, w), np.uint8)
        cv2.line(
            string, (cx, cy + r), (cx + int(rng.integers(-4, 5)), cy + r + int(rng.integers(8, 14))), 1, 1
        )
        _paint(image, label, string, np.full((h, w, 3), 30, np.float32), 0)
        region = np.zeros((h, w), np.uint8)
        cv2.circle(region, (cx, cy), r, 1, -1)
        dist = np.sqrt((xx - cx + r / 3) ** 2 + (yy - cy + r / 3) ** 2) / r
        tex = _random_color(rng) + (60 * (1 - dist).clip(0, 1))[..., None]
        _paint(image, label, region, tex, BALLOON)

    # Clutter: a few small polygons of random colour labelled "other" (ignored), as in real annotations.
    for _ in range(rng.integers(0, 4) if rng.random() < 0.4 else 0):
        pts = (rng.uniform(0, 1, (1, 2)) * [w, h] + rng.normal(0, 4, (4, 2))).astype(np.int32)
        region = np.zeros((h, w), np.uint8)
        cv2.fillPoly(region, [pts], 1)
        _paint(image, label, region, np.broadcast_to(_random_color(rng), (h, w, 3)), 0)

    image += rng.normal(0, 5, size=image.shape).astype(np.float32)
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    return image.clip(0, 255).astype(np.uint8), label


def _write_split(folder: Path, prefix: str, split: str, count: int, seed: int, split_id: int) -> None:
    img_dir = folder / "images" / split
    ann_dir = folder / "annotations" / split
    img_dir.mkdir(parents=True)
    ann_dir.mkdir(parents=True)
    for i in range(count):
        rng = np.random.default_rng([seed, split_id, i])
        height, width = int(rng.integers(120, 161)), int(rng.integers(136, 193))
        image, label = render_scene(rng, height, width)
        name = f"ADE_{prefix}_{i + 1:08d}"
        cv2.imwrite(str(img_dir / f"{name}.jpg"), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(ann_dir / f"{name}.png"), label)


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return None


def ensure_demo_dataset(
    root: str | os.PathLike, num_train: int = 320, num_val: int = 64, seed: int = 0
) -> Path:
    """Generate the demo dataset under ``root`` unless it is already there; returns ``root/ADEChallengeData2016``.

    Safe to call from many processes: a file lock serialises generation and the data appears atomically.

    Raises:
        DatasetError: ``root/ADEChallengeData2016`` exists but is not this demo dataset (never overwritten).
    """
    root = Path(os.path.expanduser(os.fspath(root)))
    target = root / _FOLDER
    spec = {"version": DEMO_VERSION, "num_train": int(num_train), "num_val": int(num_val), "seed": int(seed)}
    if _read_marker(target) == spec:
        return target
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".edaformer_demo.lock")):
        found = _read_marker(target)
        if found == spec:
            return target  # another process finished while we waited
        if target.exists():
            if found is None:
                raise DatasetError(
                    f"{target} exists but is not a generated demo dataset (no {_MARKER}); refusing to overwrite "
                    "it. Point data.root at an empty or new folder."
                )
            raise DatasetError(
                f"{target} holds a demo dataset generated with {found}, but {spec} was requested; delete the "
                "folder to regenerate it, or use another data.root"
            )
        for stale in root.glob(".demo-tmp-*"):  # left by a crashed run; we hold the lock, so nobody uses it
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".demo-tmp-", dir=root))
        try:
            staged = tmp / _FOLDER
            _write_split(staged, "train", "training", num_train, seed, 0)
            _write_split(staged, "val", "validation", num_val, seed, 1)
            (staged / _MARKER).write_text(json.dumps(spec))
            os.rename(staged, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


class DemoDataModule(ADE20KDataModule):
    """The built-in demo dataset (6 classes), read through the ADE20K loader.

    Args:
        root: folder that will hold ``ADEChallengeData2016/`` (created on first use).
        num_train / num_val: images per split (320 / 64, about 140×160 px each).
        seed: generation seed; a different seed needs a different root.
        **kwargs: :class:`SegmentationDataModule` arguments; the defaults (the ``demo`` row of
            :data:`~edaformer.data.benchmarks.BENCHMARKS`) suit the small images: crop 128×128, test_scale
            (256, 128), batch 8, rescale ratios 0.75-1.5.
    """

    dataset_name = "demo"
    recipe = "demo"

    def __init__(
        self,
        root: str | os.PathLike,
        num_train: int = 320,
        num_val: int = 64,
        seed: int = 0,
        **kwargs: Any,
    ):
        kwargs.setdefault("class_names", DEMO_CLASSES)
        kwargs.setdefault("palette", DEMO_PALETTE)
        kwargs.setdefault("label_map", LabelMap.reduce_zero_label(len(DEMO_CLASSES)))
        super().__init__(root, **kwargs)
        self.num_train, self.num_val, self.seed = int(num_train), int(num_val), int(seed)

    def prepare_data(self) -> None:
        ensure_demo_dataset(self.root, self.num_train, self.num_val, self.seed)

    def resolve_root(self) -> Path:
        return ensure_demo_dataset(self.root, self.num_train, self.num_val, self.seed)
