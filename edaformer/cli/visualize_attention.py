"""``edaformer-visualize-attention``: EFA attention maps like the paper's Figure 1, for one query pixel, with and
without ISR. Arguments: ``conf/visualize_attention.yaml``
(``edaformer-visualize-attention ckpt_path=PATH image=PATH point=[x,y] [isr=paper]``; ``--help``).

The image is resized like the test set; the query point is given in the image's own pixels. Attention is read by
forward pre-hooks on the model's EFA modules (:mod:`edaformer.viz.attention`), once with the training pooling
ratios and once under ``isr``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from ..evaluation import ImageInputError, denormalize, load_image
from ..models import ISRSetting
from ..viz import attention_figure, run_with_attention
from .segmenter_config import segmenter_from_config
from .utils import (
    CONF_DIR,
    UserError,
    as_list,
    report_user_errors,
    require_checkpoint,
    require_file,
    run_hydra_main,
    shown,
)

log = logging.getLogger("edaformer.visualize_attention")


def _choice(group: str) -> str | None:
    try:
        return HydraConfig.get().runtime.choices.get(group)
    except ValueError:
        return None


def _setting_label(setting: ISRSetting) -> str:
    return f"{setting.preset} ({setting})" if setting.preset else f"ISR {setting}"


def visualize(cfg: DictConfig) -> Path:
    require_checkpoint(cfg.get("ckpt_path"))
    require_file(cfg.get("image"), "image")
    with open_dict(cfg):
        cfg.data_choice = _choice("data")
        compare = cfg.isr
        cfg.isr = None  # the checkpoint's own ratios; the rows set theirs explicitly
        cfg.scales, cfg.flip = [1.0], False
    try:
        segmenter, info = segmenter_from_config(cfg)
        other = None if compare is None else segmenter.model.resolve_isr(compare)  # "own" too
        image = load_image(cfg.image, max_pixels=cfg.max_image_pixels)
    except (ValueError, KeyError, ImageInputError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    height, width = image.shape[:2]
    if cfg.point is None:
        x, y = (width - 1) / 2, (height - 1) / 2
    else:
        point = as_list(cfg.point)
        if len(point) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point):
            raise UserError(
                f"point={shown(cfg.point)}: expected [x,y] in the image's pixels, e.g. point=[120,40]"
            )
        x, y = (float(v) for v in point)
        if not (0 <= x < width and 0 <= y < height):
            raise UserError(
                f"point=({x:g},{y:g}) lies outside the {width}x{height} image (x < width, y < height)"
            )
    images = segmenter.preprocess(image)  # (1, 3, h, w)
    h, w = images.shape[-2:]
    point = ((x + 0.5) * w / width - 0.5, (y + 0.5) * h / height - 0.5)  # pixel centres map to pixel centres
    point = (min(max(point[0], 0.0), w - 1e-3), min(max(point[1], 0.0), h - 1e-3))
    settings = [segmenter.model.train_isr]  # the ratios the checkpoint was trained at
    if other is not None and other != settings[0]:
        settings.append(other)
    model = segmenter.model
    runs = [run_with_attention(model, images, point, isr=s) for s in settings]
    fig = attention_figure(
        denormalize(images),
        point,
        runs,
        row_labels=[_setting_label(s) for s in settings],
        class_names=segmenter.classes.names,
        palette=segmenter.classes.palette,
        block=cfg.block,
        reduce=cfg.heads,
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
    print(f"attention figure: {output}")
    return output


@hydra.main(config_path=str(CONF_DIR), config_name="visualize_attention", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    visualize(cfg)


def main() -> int:
    """Entry point of ``edaformer-visualize-attention`` (and ``scripts/visualize_attention.py``)."""
    return run_hydra_main(_main)
