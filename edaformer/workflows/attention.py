"""The attention of one query pixel, with the training ratios and under an ISR setting
(``edaformer-visualize-attention``, the paper's Figure 1)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from ..errors import UserError
from ..evaluation import ImageInputError, denormalize, load_image
from ..models import ISRSetting
from ..viz import attention_figure, run_with_attention
from .checkpoint import require_checkpoint
from .segmenter import segmenter_from_config

__all__ = ["visualize_attention"]


def visualize_attention(cfg: DictConfig) -> Path:
    """Draw the figure of ``cfg`` (``conf/visualize_attention.yaml``) into ``cfg.output``; returns its path.

    One row with the checkpoint's training ratios, one under ``cfg.isr`` (none when it is the same setting); the
    query ``point`` ``[x, y]`` is in the image's own pixels (null: its centre).
    """
    require_checkpoint(cfg.get("ckpt_path"))
    if not Path(str(cfg.image)).is_file():
        raise UserError(f"image does not exist: {cfg.image}")
    segmenter, info = segmenter_from_config(
        cfg, isr=None, scales=[1.0], flip=False
    )  # the checkpoint's ratios
    try:
        other = None if cfg.isr is None else segmenter.model.resolve_isr(cfg.isr)  # "own" too
        image = load_image(cfg.image, max_pixels=cfg.max_image_pixels)
    except (ValueError, KeyError, ImageInputError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    height, width = image.shape[:2]
    given = [(width - 1) / 2, (height - 1) / 2] if cfg.point is None else [float(v) for v in cfg.point]
    shown = ",".join(f"{v:g}" for v in given)
    if len(given) != 2:
        raise UserError(f"point=[{shown}]: expected [x,y] in the image's pixels, e.g. point=[120,40]")
    if not (0 <= given[0] < width and 0 <= given[1] < height):
        raise UserError(f"point=[{shown}] lies outside the {width}x{height} image (x < width, y < height)")
    x, y = given
    images = segmenter.preprocess(image)  # (1, 3, h, w)
    h, w = images.shape[-2:]
    point = ((x + 0.5) * w / width - 0.5, (y + 0.5) * h / height - 0.5)  # pixel centres map to pixel centres
    point = (min(max(point[0], 0.0), w - 1e-3), min(max(point[1], 0.0), h - 1e-3))
    settings = [segmenter.model.train_isr]  # the ratios the checkpoint was trained at
    if other is not None and other != settings[0]:
        settings.append(other)
    runs = [run_with_attention(segmenter.model, images, point, isr=s) for s in settings]
    fig = attention_figure(
        denormalize(images),
        point,
        runs,
        row_labels=[_setting_label(s) for s in settings],
        class_names=segmenter.classes.names,
        palette=segmenter.classes.palette,
        block=str(cfg.block),
        reduce=str(cfg.heads),
        cmap=cfg.cmap,
    )
    fig.suptitle(
        f"{Path(cfg.image).name}: {info.model_name}, query ({x:.0f}, {y:.0f}), network input {w}x{h}; "
        f"{cfg.block} block per stage/level, heads {cfg.heads}, colours scaled to each map's maximum",
        fontsize=9,
    )
    output = Path(cfg.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=cfg.dpi)
    if cfg.save_maps:
        maps = {str(run.isr): {m.layer.name: m.probs[0] for m in run.maps} for run in runs}
        torch.save(
            {"point": point, "input_size": (h, w), "maps": maps}, output.with_name("attention_maps.pt")
        )
    return output


def _setting_label(setting: ISRSetting) -> str:
    return f"{setting.preset} ({setting})" if setting.preset else f"ISR {setting}"
