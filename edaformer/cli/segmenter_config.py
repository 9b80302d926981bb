"""Build a :class:`~edaformer.evaluation.Segmenter` from a ``conf/predict.yaml``-style config (predict and
visualize-attention share it)."""

from __future__ import annotations

from typing import Any

from ..checkpoints import CheckpointInfo
from ..data.benchmarks import BENCHMARKS
from ..evaluation.segmenter import Segmenter
from .utils import acceleration_options, as_device, instantiate_checked


def segmenter_from_config(cfg: Any) -> tuple[Segmenter, CheckpointInfo]:
    """:meth:`Segmenter.from_checkpoint` driven by a ``conf/predict.yaml``-style config (scripts share it).

    Reads ``ckpt_path``, ``isr`` (``{encoder, decoder}`` or null), ``data`` (a DataModule config or null: its
    ``class_names``, ``palette`` and ``test_scale`` win), ``data_choice`` (its option name), ``dataset``,
    ``test_scale``, ``mode``, ``crop_size``, ``stride``, ``scales``, ``flip``, ``device``, ``compile`` and
    ``precision`` (checked: a bad value is a :class:`~edaformer.cli.utils.UserError`).
    """
    dataset, names, palette, test_scale = (
        cfg.get("dataset", "auto"),
        None,
        None,
        cfg.get("test_scale", "auto"),
    )
    if cfg.get("data") is not None:
        dm = instantiate_checked(cfg["data"], "data")
        choice = cfg.get("data_choice")
        dataset = choice if choice in BENCHMARKS else None
        names, palette = dm.class_names, dm.palette
        if test_scale == "auto":
            test_scale = tuple(dm.test_scale)
    return Segmenter.from_checkpoint(
        cfg["ckpt_path"],
        isr=cfg.get("isr"),
        dataset=None if dataset == "none" else dataset,
        class_names=names,
        palette=palette,
        device=as_device(cfg.get("device", "auto")),
        test_scale=test_scale,
        mode=cfg.get("mode", "auto"),
        crop_size=cfg.get("crop_size"),  # None: the dataset's window (Segmenter.build)
        stride=cfg.get("stride"),
        scales=tuple(cfg.get("scales", (1.0,))),
        flip=bool(cfg.get("flip", False)),
        **acceleration_options(cfg),
    )
