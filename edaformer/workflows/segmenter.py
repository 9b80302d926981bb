"""A :class:`~edaformer.evaluation.Segmenter` from a command's config (``edaformer-predict``,
``edaformer-visualize-attention``)."""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from ..checkpoints import CheckpointInfo
from ..data.benchmarks import BENCHMARKS
from ..devices import resolve_device
from ..errors import UserError
from ..evaluation.segmenter import Segmenter
from .checkpoint import require_checkpoint
from .runtime import choice

__all__ = ["segmenter_from_config"]


def segmenter_from_config(cfg: DictConfig, **overrides: Any) -> tuple[Segmenter, CheckpointInfo]:
    """:meth:`Segmenter.from_checkpoint` driven by a ``conf/predict.yaml``-style config.

    Reads ``ckpt_path``, ``isr`` (``{encoder, decoder}`` or null), ``data`` (a DataModule config or null: its
    ``class_names``, ``palette`` and ``test_scale`` win; the ``data`` option's name picks the dataset's inference
    recipe), ``dataset``, ``test_scale``, ``mode``, ``crop_size``, ``stride``, ``scales``, ``flip``, ``device``,
    ``compile`` and ``precision``; ``overrides`` replace any of them (``isr=None``). A checkpoint that cannot be
    read or does not fit is a :class:`UserError`.
    """
    options = {key: cfg.get(key) for key in ("isr", "mode", "crop_size", "stride", "scales", "flip")}
    options.update(overrides)
    dataset, names, palette, test_scale = (
        cfg.get("dataset", "auto"),
        None,
        None,
        cfg.get("test_scale", "auto"),
    )
    if cfg.get("data") is not None:
        dm = instantiate(cfg.data)
        picked = choice("data")
        dataset = picked if picked in BENCHMARKS else None
        names, palette = dm.class_names, dm.palette
        if test_scale == "auto":
            test_scale = tuple(dm.test_scale)
    try:
        return Segmenter.from_checkpoint(
            require_checkpoint(cfg.get("ckpt_path")),
            isr=options["isr"],
            dataset=None if dataset == "none" else str(dataset),
            class_names=names,
            palette=palette,
            device=resolve_device(str(cfg.get("device", "auto"))),
            test_scale=test_scale,
            mode=str(options["mode"] or "auto"),
            crop_size=options["crop_size"],  # None: the dataset's window (Segmenter.build)
            stride=options["stride"],
            scales=tuple(options["scales"] or (1.0,)),
            flip=bool(options["flip"]),
            compile=bool(cfg.get("compile", False)),
            precision=str(cfg.get("precision", "fp32")),
        )
    except (ValueError, KeyError) as err:
        raise UserError(str(err).splitlines()[0]) from None
