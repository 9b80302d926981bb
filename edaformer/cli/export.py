"""``edaformer-export``: ONNX (dynamic batch/H/W), TorchScript or torch.export with the ISR setting baked in
(:mod:`edaformer.tools.export`), or a Hugging Face Hub folder (``formats=[hf]``: safetensors, config.json, model
card; :mod:`edaformer.tools.model_card`). Arguments: ``conf/export.yaml`` (``edaformer-export --help``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..checkpoints import CheckpointInfo
from ..evaluation.acceleration import accelerate
from ..tools.export import FORMAT_PRECISIONS, FORMAT_SUFFIX, export_model, max_abs_diff, min_input_side
from .utils import (
    CONF_DIR,
    UserError,
    acceleration_options,
    as_choice,
    as_count,
    as_list,
    as_size,
    isr_setting,
    overridden,
    report_user_errors,
    require_checkpoint,
    run_hydra_main,
)

log = logging.getLogger("edaformer.export")


FORMATS = (*FORMAT_SUFFIX, "hf")  # hf: a Hugging Face Hub folder (save_pretrained)
PRECISIONS_OF = {**FORMAT_PRECISIONS, "hf": ("fp32",)}  # a hub folder holds the float32 weights


def load(cfg: DictConfig) -> tuple[torch.nn.Module, str, CheckpointInfo | None]:
    """The model to export, its name and what was loaded: from ``ckpt_path``, else ``cfg.model.net`` with random
    weights (no info)."""
    num_classes = None if cfg.num_classes is None else as_count(cfg.num_classes, "num_classes")
    if cfg.ckpt_path is not None:
        from ..checkpoints import load_model

        ckpt = require_checkpoint(cfg.ckpt_path)
        requested = cfg.model.model_name if overridden("model") else None
        try:
            model, info = load_model(ckpt, model_name=requested, num_classes=num_classes)
        except (ValueError, KeyError) as err:
            raise UserError(str(err).splitlines()[0]) from None
        log.info("loaded %s (%d classes) from %s", info.model_name, info.num_classes, ckpt)
        return model, info.model_name, info
    log.info("no ckpt_path: exporting %s with random weights", cfg.model.model_name)
    return instantiate(cfg.model.net), cfg.model.model_name, None


def export_hub_folder(model: torch.nn.Module, folder: Path, info: CheckpointInfo | None, verify: bool) -> str:
    """The hub folder of ``model`` with the checkpoint's metadata and the model card; returns the line to print."""
    from ..checkpoints import load_model
    from ..tools.model_card import hub_metadata, save_hub_folder

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"{folder} exists and is not an empty folder; choose another output= or output_dir=")
    metadata = {} if info is None else hub_metadata(model, info, info.path)
    save_hub_folder(model, folder, config=metadata)
    files = ", ".join(sorted(p.name for p in folder.iterdir()))
    line = f"hf: {folder} ({files}; ISR {model.isr})"
    if verify:
        reloaded, _ = load_model(folder)
        x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            line += f"; max |diff| after reloading {float((reloaded(x) - model(x)).abs().max()):.2e}"
    return line


def check_runtime(formats: list[str], compile: bool, precision: str) -> None:
    """A one-line error for an option no requested format takes (:data:`PRECISIONS_OF`)."""
    if compile:
        raise UserError(
            "compile=true: no export format takes it (the runtime that loads a file optimises it, e.g. "
            "torch.compile(torch.export.load(F).module())); compile is an option of eval, predict and benchmark"
        )
    refused = [fmt for fmt in formats if precision not in PRECISIONS_OF[fmt]]
    if refused:
        takes = [fmt for fmt, p in PRECISIONS_OF.items() if precision in p]
        raise UserError(
            f"precision={precision}: format {', '.join(refused)} is float32 only; {precision} exports: "
            f"{', '.join(takes)}"
        )


@hydra.main(config_path=str(CONF_DIR), config_name="export", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    formats = [as_choice(f, FORMATS, "formats") for f in as_list(cfg.formats)]
    if not formats:
        raise UserError(f"formats=[]: name at least one of {', '.join(FORMATS)}")
    if cfg.output is not None and len(formats) > 1:
        raise UserError("output= names one file; use output_dir= to export several formats")
    exporter = as_choice(cfg.exporter, ("dynamo", "torchscript"), "exporter")
    runtime = acceleration_options(cfg)
    check_runtime(formats, **runtime)
    static = None if cfg.size is None else as_size(cfg.size, minimum=32)
    model, name, info = load(cfg)
    graphs = [f for f in formats if f != "hf"]
    if graphs and getattr(model, "decode_head", None) is None:
        raise UserError(
            f"{name}: export takes a segmentor (edaformer_t, edaformer_b) for formats={','.join(graphs)}; "
            "formats=[hf] takes any model"
        )
    if cfg.get("isr") is not None:  # isr: null (the default) composes no key: the model's own ratios
        try:
            model.set_isr(isr_setting(cfg.isr, model))
        except ValueError as err:
            raise UserError(f"isr: {err}") from None
    model.eval()
    tag = "" if runtime["precision"] == "fp32" else f"_{runtime['precision']}"
    if "hf" in formats:  # float32 weights, before any bfloat16 conversion (check_runtime refuses bf16 for hf)
        hub_path = (
            Path(cfg.output)
            if cfg.output is not None
            else Path(cfg.output_dir) / (f"{name}_{str(model.isr).replace(',', '_')}_hf")
        )
        print(export_hub_folder(model, hub_path, info, bool(cfg.verify)))
    if not graphs:
        return
    model = accelerate(model, precision=runtime["precision"])  # bf16: bfloat16 weights, float32 in/out
    side = min_input_side(model)
    for fmt in graphs:
        if cfg.output is not None:
            path = Path(cfg.output)
        else:
            stem = f"{name}_{str(model.isr).replace(',', '_')}{tag}"
            path = Path(cfg.output_dir) / f"{stem}{FORMAT_SUFFIX[fmt]}"
        kwargs: dict = {"example_size": static}
        if fmt == "onnx":
            kwargs.update(dynamic=static is None, opset=as_count(cfg.opset, "opset"), exporter=exporter)
        elif fmt == "exported_program":
            kwargs.update(dynamic=static is None)
        try:
            export_model(model, path, fmt, **kwargs)
        except ValueError as err:
            raise UserError(str(err)) from None
        # a torch.export program checks its input range; ONNX and TorchScript graphs take any side >= ``side``
        lo = min_input_side(model, symbolic=True) if fmt == "exported_program" else side
        line = f"{fmt}: {path} (ISR {model.isr}; {runtime['precision']}; "
        line += f"input {static[0]}x{static[1]})" if static else f"dynamic batch/height/width, sides >= {lo})"
        if cfg.verify:
            sizes = [static] if static else [(lo, lo + 35), (max(lo, 128) + 16, max(lo, 200))]
            line += f"; max |diff| vs PyTorch {max_abs_diff(path, fmt, model, sizes):.2e}"
        print(line)


def main() -> int:
    """Entry point of ``edaformer-export`` (and ``scripts/export.py``)."""
    return run_hydra_main(_main)
