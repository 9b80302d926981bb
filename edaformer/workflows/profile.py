"""A torch.profiler breakdown of a model's forward passes from a composed ``conf/profile.yaml``
(``edaformer-profile``; :mod:`edaformer.tools.profile`)."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..devices import resolve_device
from ..errors import UserError
from ..evaluation.acceleration import accelerate
from ..models import parse_isr
from ..tools.profile import profile_calls
from ..tools.timing import inference_call, prepare

__all__ = ["profile"]


def profile(cfg: DictConfig) -> tuple[str, str]:
    """Profile ``cfg.runs`` forward passes of ``cfg.model.net`` (random weights) under ``cfg.isr``; returns the
    header line (model, size, layout, precision, device) and the profiler's table."""
    size, batch = (int(cfg.size[0]), int(cfg.size[1])), int(cfg.batch_size)
    memory_format, precision = str(cfg.memory_format), str(cfg.precision)
    device = resolve_device(str(cfg.device))
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    model = instantiate(cfg.model.net)
    if getattr(model, "decode_head", None) is None:
        raise UserError(
            f"model={cfg.model.model_name}: profiling takes a segmentor (edaformer_t, edaformer_b)"
        )
    try:
        model.set_isr(parse_isr(cfg.isr, own=model.train_isr))
    except ValueError as err:
        raise UserError(f"isr: {err}") from None
    model = prepare(model.eval(), device, memory_format)
    x = torch.randn(batch, 3, *size, device=device)
    if memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    call = inference_call(accelerate(model, precision=precision), x)
    table = profile_calls(call, device, runs=int(cfg.runs), rows=int(cfg.rows), by_shape=bool(cfg.by_shape))
    header = (
        f"{cfg.model.model_name} (ISR {model.isr}) {size[0]}x{size[1]} batch {batch} {memory_format} {precision}, "
        f"{device}, {torch.get_num_threads()} threads; times summed over {cfg.runs} runs"
    )
    return header, table
