"""Whole-dataset scan behind ``edaformer-check-dataset``: every file decoded and validated, all problems kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from rich.progress import track

from edaformer.data.imagenet import ImageNetDataModule
from edaformer.data.io import DatasetError, conversion_of, image_mode, read_image
from edaformer.data.segmentation import SegmentationDataModule, SegmentationDataset

__all__ = ["ScaleSuggestion", "SplitReport", "check_datamodule", "format_report", "suggest_scales"]


@dataclass
class SplitReport:
    """What a scan of one split found.

    Attributes:
        counts: pixels per train id (segmentation) or images per class (classification).
        ignored: pixels labelled 255 (segmentation only).
        sizes: ``(height, width)`` of every image read.
        modes: images per Pillow pixel format (``RGB``, ``I;16``, ``P``, ...), as stored on disk.
    """

    role: str
    split: str
    num_items: int = 0
    min_hw: tuple[int, int] | None = None
    max_hw: tuple[int, int] | None = None
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ignored: int = 0
    problems: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    modes: Counter[str] = field(default_factory=Counter)

    def add_image(self, path: object, height: int, width: int) -> None:
        """Count an image read without problems: its size and stored pixel format (from its header)."""
        self.modes[image_mode(path)] += 1
        self.add_size(height, width)

    def add_size(self, height: int, width: int) -> None:
        self.num_items += 1
        self.sizes.append((height, width))
        if self.min_hw is None or height * width < self.min_hw[0] * self.min_hw[1]:
            self.min_hw = (height, width)
        if self.max_hw is None or height * width > self.max_hw[0] * self.max_hw[1]:
            self.max_hw = (height, width)


def _progress(items: Sequence, description: str, show: bool) -> Iterable:
    return track(items, description=description, transient=True) if show and items else items


def _scan_segmentation(dm: SegmentationDataModule, role: str, show: bool) -> SplitReport:
    report = SplitReport(role, dm.splits[role], counts=np.zeros(dm.num_classes, dtype=np.int64))
    try:
        pairs, report.problems = dm.scan_split(report.split)
    except DatasetError as err:
        report.problems.append(str(err))
        return report
    dataset = SegmentationDataset(pairs, dm.label_map, None, train=False)
    for i in _progress(range(len(dataset)), f"{role}: {report.split}", show):
        try:
            image, mask = dataset.load(i)
        except DatasetError as err:
            report.problems.append(str(err))
            continue
        report.add_image(pairs[i][0], *image.shape[:2])
        hist = np.bincount(mask.ravel(), minlength=256)
        report.counts += hist[: dm.num_classes]
        report.ignored += int(hist[dm.ignore_index])
    return report


def _scan_classification(dm: ImageNetDataModule, role: str, show: bool) -> SplitReport:
    report = SplitReport(role, dm.splits[role])
    try:
        report.counts = np.zeros(len(dm.class_names), dtype=np.int64)
        samples, report.problems = dm.scan(role)
    except DatasetError as err:
        report.problems.append(str(err))
        return report
    for path, label in _progress(samples, f"{role}: {report.split}", show):
        try:
            image = read_image(path)
        except DatasetError as err:
            report.problems.append(str(err))
            continue
        report.add_image(path, *image.shape[:2])
        report.counts[label] += 1
    return report


def check_datamodule(
    dm: object, roles: Sequence[str] = ("train", "val"), progress: bool = True
) -> list[SplitReport]:
    """Scan the given roles of a DataModule, decoding every file; never raises on data problems."""
    if isinstance(dm, SegmentationDataModule):
        if hasattr(dm, "prepare_data"):
            dm.prepare_data()
        return [_scan_segmentation(dm, role, progress) for role in roles]
    if isinstance(dm, ImageNetDataModule):
        return [_scan_classification(dm, role, progress) for role in roles]
    raise TypeError(f"cannot check a {type(dm).__name__}; expected a segmentation or ImageNet DataModule")


def _lines(dm: object, report: SplitReport, max_listed: int) -> Iterator[str]:
    yield f"[{report.role}] split {report.split!r}: {report.num_items} ok, {len(report.problems)} problem(s)"
    if report.min_hw is not None:
        (h0, w0), (h1, w1) = report.min_hw, report.max_hw
        yield f"  image size (HxW): smallest {h0}x{w0}, largest {h1}x{w1}"
    if report.modes:
        yield "  image modes: " + ", ".join(f"{mode} {n}" for mode, n in report.modes.most_common())
    for mode, n in report.modes.most_common():
        conversion = conversion_of(mode)
        if conversion is not None:
            yield f"    {mode} ({n} images) is converted as training, evaluation and prediction read it: {conversion}"
    names = list(getattr(dm, "class_names", []))
    total = int(report.counts.sum()) + report.ignored
    if total:
        unit = "pixels" if isinstance(dm, SegmentationDataModule) else "images"
        yield f"  {unit} per class (train id, name, count, share):"
        width = max((len(n) for n in names), default=4)
        for k, count in enumerate(report.counts):
            name = names[k] if k < len(names) else str(k)
            yield f"    {k:4d} {name:<{width}} {int(count):>12d} {100 * count / total:6.2f}%"
        if isinstance(dm, SegmentationDataModule):
            yield f"    ignore (255){'':<{max(width - 8, 0)}} {report.ignored:>12d} {100 * report.ignored / total:6.2f}%"
    for problem in report.problems[:max_listed]:
        yield "  ERROR " + problem.replace("\n", "\n        ")
    if len(report.problems) > max_listed:
        yield f"  ... and {len(report.problems) - max_listed} more problem(s)"


@dataclass(frozen=True)
class ScaleSuggestion:
    """A training crop and test scale that fit a dataset's images (``(long, short)`` as ``data.test_scale``).

    ``typical_hw`` is the median image ``(height, width)``; ``current_factor`` is how much the DataModule's present
    ``test_scale`` resizes such an image (the training rescale follows ``test_scale``).
    """

    typical_hw: tuple[int, int]
    test_scale: tuple[int, int]
    crop_size: tuple[int, int]
    current_factor: float

    def line(self, current: Sequence[int]) -> str:
        h, w = self.typical_hw
        text = (
            f"suggested for these images (median {h}x{w} HxW): data.test_scale=[{self.test_scale[0]},"
            f"{self.test_scale[1]}] data.crop_size=[{self.crop_size[0]},{self.crop_size[1]}]"
        )
        if not 0.5 <= self.current_factor <= 2.0:
            text += (
                f"; the current test_scale=[{current[0]},{current[1]}] resizes them x{self.current_factor:.2g} "
                "(the training rescale follows test_scale)"
            )
        return text


def _up32(value: float) -> int:
    return max(32, int(-(-value // 32) * 32))


def suggest_scales(dm: object, reports: Sequence[SplitReport]) -> ScaleSuggestion | None:
    """Crop and test scale from the image sizes a scan found (the train split's, else any), as the recipes pair
    them: ``test_scale`` = the median long and short sides, so a typical image keeps its size (rounded up to
    multiples of 32); the crop is the square of the short side (ADE20K: 512 for (2048, 512); Cityscapes: 1024).
    ``None`` for classification data or when no image was read."""
    if not isinstance(dm, SegmentationDataModule):
        return None
    report = next((r for r in reports if r.role == "train" and r.sizes), None) or next(
        (r for r in reports if r.sizes), None
    )
    if report is None:
        return None
    heights, widths = zip(*report.sizes)
    h, w = int(np.median(heights)), int(np.median(widths))
    long_side, short_side = max(h, w), min(h, w)
    scale = (_up32(long_side), _up32(short_side))
    current_long, current_short = dm.test_scale
    factor = min(current_long / long_side, current_short / short_side)
    return ScaleSuggestion((h, w), scale, (scale[1], scale[1]), factor)


def format_report(dm: object, reports: Sequence[SplitReport], max_listed: int = 50) -> str:
    """Human-readable summary of :func:`check_datamodule`'s reports, with a crop / test scale suggestion."""
    header = f"{type(dm).__name__} at {getattr(dm, 'root', '?')}"
    body = [line for report in reports for line in _lines(dm, report, max_listed)]
    suggestion = suggest_scales(dm, reports)
    if suggestion is not None:
        body.append(suggestion.line(dm.test_scale))
    problems = sum(len(r.problems) for r in reports)
    footer = "OK: no problems found" if problems == 0 else f"FAILED: {problems} problem(s)"
    return "\n".join([header, *body, footer])
