"""Class names and colour palettes shipped with the package (``edaformer/data/meta/*.json``).

The JSON files hold the standard lists: ADE20K's 150 SceneParsing classes with the usual CSAIL/mmseg
palette, Cityscapes' 19 train ids with the official colours (from ``cityscapesscripts``), the 171
COCO-Stuff-164k classes with the mmseg palette and each class's raw stuffthingmap id, and the 6 classes of the
built-in demo data. Datasets without a palette are coloured by :func:`default_palette`, the one generator of
class colours (DataModules, ``Segmenter``, the W&B samples).
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

__all__ = ["ClassInfo", "class_list_names", "coco_stuff_lut", "default_palette", "load_classes"]

Color = tuple[int, int, int]


@dataclass(frozen=True)
class ClassInfo:
    """Names and palette of a dataset's training classes, index = train id."""

    names: list[str]
    palette: list[Color]
    raw_ids: list[int] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.names)


@cache
def _read(name: str) -> dict:
    text = resources.files("edaformer.data").joinpath("meta", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def class_list_names() -> tuple[str, ...]:
    """The datasets the package ships class lists for (``ade20k``, ``cityscapes``, ``coco_stuff``, ``demo``)."""
    folder = resources.files("edaformer.data").joinpath("meta")
    return tuple(sorted(f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json")))


def load_classes(name: str) -> ClassInfo:
    """Class names and palette of a shipped class list (:func:`class_list_names`)."""
    if name not in class_list_names():
        raise KeyError(f"no class list named {name!r}; available: {', '.join(class_list_names())}")
    classes = _read(name)["classes"]
    raw = [c["raw_id"] for c in classes] if "raw_id" in classes[0] else None
    return ClassInfo(
        names=[c["name"] for c in classes],
        palette=[tuple(c["color"]) for c in classes],
        raw_ids=raw,
    )


def coco_stuff_lut() -> np.ndarray:
    """``uint8 [256]`` table from raw COCO-Stuff-164k stuffthingmap ids to the 171 train ids.

    Raw ids 0-181 minus the 11 unused COCO ids map in order to 0-170; the unused ids, 182-254 and 255
    (unlabelled) map to 255.
    """
    lut = np.full(256, 255, dtype=np.uint8)
    raw_ids = load_classes("coco_stuff").raw_ids
    assert raw_ids is not None
    lut[raw_ids] = np.arange(len(raw_ids), dtype=np.uint8)
    return lut


def default_palette(num_classes: int) -> list[Color]:
    """Distinct, deterministic colours for datasets without a palette (golden-ratio hue steps)."""
    palette = []
    for k in range(num_classes):
        hue = (k * 0.618033988749895) % 1.0
        value = 0.95 if k % 2 == 0 else 0.7
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, value)
        palette.append((round(r * 255), round(g * 255), round(b * 255)))
    return palette
