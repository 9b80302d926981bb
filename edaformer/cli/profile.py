"""``edaformer-profile``: torch.profiler breakdown of a model's forward passes (:mod:`edaformer.tools.profile`).
Arguments: ``conf/profile.yaml`` (``edaformer-profile --help``).
"""

from __future__ import annotations

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..evaluation.acceleration import PRECISIONS, accelerate
from ..tools.profile import profile_calls
from ..tools.timing import inference_call, prepare
from .utils import (
    CONF_DIR,
    UserError,
    as_choice,
    as_count,
    as_device,
    as_size,
    isr_setting,
    report_user_errors,
    run_hydra_main,
)


@hydra.main(config_path=str(CONF_DIR), config_name="profile", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    size = as_size(cfg.size, minimum=32)
    batch = as_count(cfg.batch_size, "batch_size")
    runs = as_count(cfg.runs, "runs")
    memory_format = as_choice(cfg.memory_format, ("contiguous", "channels_last"), "memory_format")
    precision = as_choice(cfg.precision, PRECISIONS, "precision")
    device = torch.device(as_device(cfg.device))
    if cfg.threads is not None:
        torch.set_num_threads(as_count(cfg.threads, "threads"))
    as_count(cfg.num_classes, "num_classes")
    model = instantiate(cfg.model.net)
    if getattr(model, "decode_head", None) is None:
        raise UserError(
            f"model={cfg.model.model_name}: profiling takes a segmentor (edaformer_t, edaformer_b)"
        )
    model.set_isr(isr_setting(cfg.isr, model))
    model = prepare(model.eval(), device, memory_format)
    x = torch.randn(batch, 3, *size, device=device)
    if memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    report = profile_calls(
        inference_call(accelerate(model, precision=precision), x),
        device,
        runs=runs,
        rows=cfg.rows,
        by_shape=cfg.by_shape,
    )
    print(
        f"{cfg.model.model_name} (ISR {model.isr}) {size[0]}x{size[1]} batch {batch} {memory_format} {precision}, "
        f"{device}, {torch.get_num_threads()} threads; times summed over {runs} runs"
    )
    print(report)


def main() -> int:
    """Entry point of ``edaformer-profile`` (and ``scripts/profile_model.py``)."""
    return run_hydra_main(_main)
