"""Exporting a model from a composed ``conf/export.yaml`` (``edaformer-export``): ONNX, TorchScript or torch.export
graphs with the ISR setting baked in (:mod:`edaformer.tools.export`), or a Hugging Face Hub folder
(``formats=[hf]``: safetensors, config.json, model card; :mod:`edaformer.tools.model_card`)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..checkpoints import CheckpointInfo, load_model
from ..errors import NonFiniteError, UserError
from ..evaluation.acceleration import accelerate
from ..files import check_new_files
from ..models import parse_isr
from ..tools.export import (
    FORMAT_PRECISIONS,
    FORMAT_SUFFIX,
    export_model,
    max_abs_diff,
    min_input_side,
    worse_diff,
)
from ..tools.model_card import hub_metadata, save_hub_folder
from .checkpoint import load_checkpoint

__all__ = ["export"]

log = logging.getLogger("edaformer.export")
PRECISIONS_OF = {**FORMAT_PRECISIONS, "hf": ("fp32",)}  # a hub folder holds the float32 weights


def export(cfg: DictConfig) -> list[str]:
    """Write every format of ``cfg.formats``; returns one line per file (path, ISR, precision, input sizes and,
    with ``verify``, the largest difference to PyTorch)."""
    formats = [str(f) for f in cfg.formats]
    if not formats:
        raise UserError(f"formats=[]: name at least one of {', '.join(PRECISIONS_OF)}")
    if cfg.output is not None and len(formats) > 1:
        raise UserError("output= names one file; use output_dir= to export several formats")
    precision = str(cfg.precision)
    check_runtime(formats, bool(cfg.compile), precision)
    if cfg.output is not None and formats != ["hf"]:  # before any work (a hub folder is checked as a folder)
        check_new_files([cfg.output], bool(cfg.overwrite), "output")
    static = None if cfg.size is None else (int(cfg.size[0]), int(cfg.size[1]))
    model, name, info = _load(cfg)
    graphs = [f for f in formats if f != "hf"]
    if graphs and getattr(model, "decode_head", None) is None:
        raise UserError(
            f"{name}: export takes a segmentor (edaformer_t, edaformer_b) for formats={','.join(graphs)}; "
            "formats=[hf] takes any model"
        )
    if cfg.get("isr") is not None:  # isr: null (the default) composes no key: the model's own ratios
        try:
            model.set_isr(parse_isr(cfg.isr, own=model.train_isr))
        except ValueError as err:
            raise UserError(f"isr: {err}") from None
    model.eval()
    stem = f"{name}_{str(model.isr).replace(',', '_')}"
    lines = []
    if "hf" in formats:  # float32 weights, before any bfloat16 conversion (check_runtime refuses bf16 for hf)
        folder = Path(cfg.output) if cfg.output is not None else Path(cfg.output_dir) / f"{stem}_hf"
        lines.append(export_hub_folder(model, folder, info, bool(cfg.verify)))
    if not graphs:
        return lines
    model = accelerate(model, precision=precision)  # bf16: bfloat16 weights, float32 in/out
    side = min_input_side(model)
    tag = "" if precision == "fp32" else f"_{precision}"
    for fmt in graphs:
        path = (
            Path(cfg.output)
            if cfg.output is not None
            else Path(cfg.output_dir) / f"{stem}{tag}{FORMAT_SUFFIX[fmt]}"
        )
        check_new_files([path], bool(cfg.overwrite), "output" if cfg.output is not None else "output_dir")
        kwargs: dict = {"example_size": static}
        if fmt == "onnx":
            kwargs.update(dynamic=static is None, opset=int(cfg.opset), exporter=str(cfg.exporter))
        elif fmt == "exported_program":
            kwargs.update(dynamic=static is None)
        try:
            export_model(model, path, fmt, verbose=bool(cfg.verbose), **kwargs)
        except ValueError as err:
            raise UserError(str(err)) from None
        # a torch.export program checks its input range; ONNX and TorchScript graphs take any side >= ``side``
        lo = min_input_side(model, symbolic=True) if fmt == "exported_program" else side
        line = f"{fmt}: {path} (ISR {model.isr}; {precision}; "
        line += f"input {static[0]}x{static[1]})" if static else f"dynamic batch/height/width, sides >= {lo})"
        if cfg.verify:
            sizes = [static] if static else [(lo, lo + 35), (max(lo, 128) + 16, max(lo, 200))]
            line += f"; max |diff| vs PyTorch {_finite(max_abs_diff(path, fmt, model, sizes), path):.2e}"
        lines.append(line)
    return lines


def _load(cfg: DictConfig) -> tuple[torch.nn.Module, str, CheckpointInfo | None]:
    """The model to export, its name and what was loaded: from ``ckpt_path``, else ``cfg.model.net`` with random
    weights (no info)."""
    if cfg.ckpt_path is not None:
        model, info = load_checkpoint(cfg, num_classes=cfg.num_classes)
        log.info("loaded %s (%d classes) from %s", info.model_name, info.num_classes, cfg.ckpt_path)
        return model, info.model_name, info
    log.info("no ckpt_path: exporting %s with random weights", cfg.model.model_name)
    return instantiate(cfg.model.net), cfg.model.model_name, None


def export_hub_folder(model: torch.nn.Module, folder: Path, info: CheckpointInfo | None, verify: bool) -> str:
    """The hub folder of ``model`` with the checkpoint's metadata and the model card; returns the line to print."""
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
            line += (
                f"; max |diff| after reloading {_finite(worse_diff(0.0, reloaded(x), model(x)), folder):.2e}"
            )
    return line


def _finite(diff: float, path: Path) -> float:
    """``diff`` when it is a number; NaN/inf (outputs that hold NaN) is a :class:`NonFiniteError`."""
    if not math.isfinite(diff):
        raise NonFiniteError(
            f"verify: {path} and PyTorch give NaN/inf outputs (max |diff| {diff}); the file was written but does not check out"
        )
    return diff


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
