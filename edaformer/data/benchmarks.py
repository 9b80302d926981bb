"""The datasets this project has recipes for, one row each: the single home of their facts.

Evaluation size, test-time resize, inference mode and window, training crop and rescale range, batch per GPU of
the authors' recipes, schedule length and multi-scale testing ratios live here and nowhere else. Code reads
:data:`BENCHMARKS` (the DataModules' defaults, ``Segmenter``'s test recipe, the paper's GFLOPs sizes), and the Hydra
configs interpolate the same values through :func:`benchmark_fact`, registered as the resolver
``edaformer_benchmark`` (``${edaformer_benchmark:cityscapes.test_scale}``). Class names, colours and counts come from
the shipped class lists (``edaformer/data/meta/<name>.json``, :func:`~edaformer.data.classes.load_classes`).

Sources: the authors' configs (``local_configs/edaformer/{tiny,base}/*.py`` of their repository) and the paper
(evaluation sizes: ADE20K / COCO-Stuff 512×512, Cityscapes 1024×2048). The ``demo`` row is this project's
built-in synthetic data (not in the paper), sized for a 2-core CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from edaformer.data.classes import ClassInfo, load_classes

__all__ = ["BENCHMARKS", "Benchmark", "benchmark", "benchmark_fact"]


@dataclass(frozen=True)
class Benchmark:
    """One dataset's test and training facts.

    Sizes are ``(height, width)`` in pixels except ``test_scale``, the ``(long, short)`` bound of the keep-ratio
    test resize (mmseg's ``img_scale``), which is also the base of the training rescale by ``ratio_range``.
    ``batch_per_gpu`` maps the EDAFormer variant (``"t"``, ``"b"``) to the authors' ``samples_per_gpu``; they train
    on ``gpus`` GPUs. ``iterations`` and ``eval_interval`` count optimizer steps. ``in_paper``: the paper reports
    results on it (the class count then identifies it, see ``Segmenter``).
    """

    name: str
    eval_size: tuple[int, int]
    test_scale: tuple[int, int]
    train_crop: tuple[int, int]
    batch_per_gpu: dict[str, int]
    iterations: int
    eval_interval: int
    inference_mode: str = "whole"
    slide_crop: tuple[int, int] | None = None
    slide_stride: tuple[int, int] | None = None
    ratio_range: tuple[float, float] = (0.5, 2.0)
    gpus: int = 4
    tta_scales: tuple[float, ...] = ()
    in_paper: bool = True

    @property
    def classes(self) -> ClassInfo:
        """Names and palette of the training classes (the shipped class list of the same name)."""
        return load_classes(self.name)

    @property
    def num_classes(self) -> int:
        return self.classes.num_classes

    def global_batch(self, variant: str) -> int:
        """Images per optimizer step of the authors' recipe for ``variant`` (batch per GPU × GPUs)."""
        return self.batch_per_gpu[variant] * self.gpus

    @property
    def global_batches(self) -> dict[str, int]:
        """:meth:`global_batch` of every variant (``{"t": 16, "b": 16}``), for the configs."""
        return {variant: self.global_batch(variant) for variant in self.batch_per_gpu}


BENCHMARKS: dict[str, Benchmark] = {
    "ade20k": Benchmark(
        name="ade20k",
        eval_size=(512, 512),
        test_scale=(2048, 512),
        train_crop=(512, 512),
        batch_per_gpu={"t": 4, "b": 4},
        iterations=160_000,
        eval_interval=8_000,
        tta_scales=(0.75, 0.875, 1.0, 1.125, 1.25),
    ),
    "cityscapes": Benchmark(
        name="cityscapes",
        eval_size=(1024, 2048),
        test_scale=(2048, 1024),
        train_crop=(1024, 1024),
        batch_per_gpu={"t": 2, "b": 1},
        iterations=160_000,
        eval_interval=4_000,
        inference_mode="slide",
        slide_crop=(1024, 1024),
        slide_stride=(768, 768),
        tta_scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0),
    ),
    "coco_stuff": Benchmark(
        name="coco_stuff",
        eval_size=(512, 512),
        test_scale=(2048, 512),
        train_crop=(512, 512),
        batch_per_gpu={"t": 4, "b": 4},
        iterations=160_000,  # the authors' "80k" files inherit the 160k schedule (docs/reproducing.md)
        eval_interval=4_000,
        tta_scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75),
    ),
    "demo": Benchmark(  # images of about 140×160: short side 128, sides rounded up to multiples of 32
        name="demo",
        eval_size=(128, 160),
        test_scale=(256, 128),
        train_crop=(128, 128),
        batch_per_gpu={"t": 8, "b": 8},
        iterations=1_200,
        eval_interval=400,
        ratio_range=(0.75, 1.5),
        gpus=1,
        in_paper=False,
    ),
}


def benchmark(name: str) -> Benchmark:
    """The row of ``name`` (``ade20k``, ``cityscapes``, ``coco_stuff``, ``demo``); a ``KeyError`` lists the names."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None


def benchmark_fact(path: str) -> Any:
    """One fact by its dotted path, for the configs: ``"cityscapes.test_scale"`` → ``[2048, 1024]``.

    The first part names the row, the next an attribute of :class:`Benchmark` (fields and the properties
    ``num_classes`` and ``global_batches``), the rest keys of a mapping (``"cityscapes.batch_per_gpu.b"`` → 1).
    Tuples come back as lists. A wrong part raises ``KeyError`` naming the valid ones.
    """
    name, *keys = str(path).split(".")
    value: Any = benchmark(name)
    for key in keys:
        if isinstance(value, Benchmark):
            known = [f.name for f in fields(Benchmark)] + ["num_classes", "global_batches"]
            if key not in known:
                raise KeyError(f"{path}: a benchmark has no fact {key!r}; known: {', '.join(known)}")
            value = getattr(value, key)
        elif isinstance(value, Mapping) and key in value:
            value = value[key]
        else:
            raise KeyError(f"{path}: no {key!r} in {value!r}")
    return list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
