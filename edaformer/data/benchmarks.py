"""The benchmarks this project knows, one row each: the single home of their facts.

Classes, evaluation size, test-time resize, inference mode and window, training crop, batch per GPU of the
authors' recipes and multi-scale testing ratios live here and nowhere else: code reads :data:`BENCHMARKS`, and the
Hydra configs interpolate the same values (``${edaformer_benchmark:cityscapes.test_scale}``).

Sources: the authors' configs (``local_configs/edaformer/{tiny,base}/*.py`` of their repository) and the paper
(evaluation sizes: ADE20K / COCO-Stuff 512×512, Cityscapes 1024×2048).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BENCHMARKS", "Benchmark", "benchmark"]


@dataclass(frozen=True)
class Benchmark:
    """One dataset's test and training facts.

    Sizes are ``(height, width)`` in pixels except ``test_scale``, the ``(long, short)`` bound of the keep-ratio
    test resize (mmseg's ``img_scale``). ``batch_per_gpu`` maps the EDAFormer variant (``"t"``, ``"b"``) to the
    authors' ``samples_per_gpu``; they train on 4 GPUs (``gpus``).
    """

    name: str
    num_classes: int
    eval_size: tuple[int, int]
    test_scale: tuple[int, int]
    inference_mode: str = "whole"
    slide_crop: tuple[int, int] | None = None
    slide_stride: tuple[int, int] | None = None
    train_crop: tuple[int, int] | None = None
    batch_per_gpu: dict[str, int] = field(default_factory=dict)
    gpus: int = 4
    iterations: int | None = None
    eval_interval: int | None = None
    tta_scales: tuple[float, ...] = ()

    def global_batch(self, variant: str) -> int:
        """Images per optimizer step of the authors' recipe for ``variant`` (batch per GPU × GPUs)."""
        return self.batch_per_gpu[variant] * self.gpus


BENCHMARKS: dict[str, Benchmark] = {
    "ade20k": Benchmark(
        name="ade20k",
        num_classes=150,
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
        num_classes=19,
        eval_size=(1024, 2048),
        test_scale=(2048, 1024),
        inference_mode="slide",
        slide_crop=(1024, 1024),
        slide_stride=(768, 768),
        train_crop=(1024, 1024),
        batch_per_gpu={"t": 2, "b": 1},
        iterations=160_000,
        eval_interval=4_000,
        tta_scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0),
    ),
    "coco_stuff": Benchmark(
        name="coco_stuff",
        num_classes=171,
        eval_size=(512, 512),
        test_scale=(2048, 512),
        train_crop=(512, 512),
        batch_per_gpu={"t": 4, "b": 4},
        iterations=160_000,
        eval_interval=4_000,
        tta_scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75),
    ),
}


def benchmark(name: str) -> Benchmark:
    """The row of ``name`` (``ade20k``, ``cityscapes``, ``coco_stuff``); a ``KeyError`` lists the names."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None
