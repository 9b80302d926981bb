"""Deployment exports: ONNX (dynamic batch/height/width), TorchScript and ``torch.export`` programs.

The ISR setting is **baked in** at export time: the pooling ratios become fixed ``AveragePool`` kernels. An
exported graph is therefore valid for inputs whose every pooled map is at least one window wide — at least
:func:`min_input_side` pixels per side (32 for the training ratios, 64 for ``paper``); the eager model handles
smaller inputs by shrinking the window, which a fixed-kernel graph cannot. Inputs are normalised images
``[B, 3, H, W]`` (float32) and outputs logits ``[B, K, H, W]`` (float32), as for
:class:`~edaformer.models.EDAFormer`; TorchScript and ``torch.export`` files may hold bfloat16 weights
(:data:`FORMAT_PRECISIONS`: export an :func:`~edaformer.evaluation.acceleration.accelerate`'d model).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import nn

ExportFormat = Literal["onnx", "torchscript", "exported_program"]
OnnxExporter = Literal["dynamo", "torchscript"]

FORMAT_SUFFIX: dict[str, str] = {
    "onnx": ".onnx",
    "torchscript": ".torchscript.pt",
    "exported_program": ".pt2",
}
INPUT_NAME, OUTPUT_NAME = "images", "logits"
# The precisions (``edaformer.evaluation.acceleration``) each format stores. A bfloat16 export holds bfloat16
# weights and still takes float32 images and returns float32 logits; onnxruntime's CPU provider lacks bfloat16
# kernels for most of the graph's operators, so ONNX files are float32. No format takes ``compile``: an exported
# file is optimised by the runtime that loads it (``torch.compile(torch.export.load(f).module())``,
# onnxruntime's graph optimisations).
FORMAT_PRECISIONS: dict[str, tuple[str, ...]] = {
    "onnx": ("fp32",),
    "torchscript": ("fp32", "bf16"),
    "exported_program": ("fp32", "bf16"),
}


def min_input_side(model: nn.Module, symbolic: bool = False) -> int:
    """Smallest image side for which every EFA pooling window fits in its map at the model's current ISR.

    A stage with stride ``k`` sees ``⌈H / k⌉`` rows, so pooling by ``s`` needs ``H ≥ k·(s − 1) + 1``; the
    segmentor itself needs 32 pixels. ``symbolic=True`` gives the bound for ``torch.export``-based exports,
    which need every pooled map at least **two** rows/columns wide (``H ≥ k·(2s − 1) + 1``): a size-1 dimension
    is specialised rather than traced symbolically. ``model`` is an :class:`~edaformer.models.EDAFormer`; the
    strides ``k`` are those of the maps its EFA levels attend over (the encoder's ``feature_info``).
    """
    encoder, decoder = model.efa_levels()
    windows = 2 if symbolic else 1
    needs = [level.reduction * (windows * level.pool_ratio - 1) + 1 for level in (*encoder, *decoder)]
    return max(32, *needs)


def _dynamic_shapes(model: nn.Module, max_side: int) -> dict:
    """Dynamic batch/height/width for ``torch.export`` (``Dim.DYNAMIC``: the model's harmless size guards, such
    as "no resize needed when sizes already match", become runtime checks instead of export errors)."""
    side = min_input_side(model, symbolic=True)
    dim = torch.export.Dim.DYNAMIC
    return {
        INPUT_NAME: {0: dim(min=1, max=1024), 2: dim(min=side, max=max_side), 3: dim(min=side, max=max_side)}
    }


def _example(model: nn.Module, batch: int, size: Sequence[int] | None) -> torch.Tensor:
    side = min_input_side(model, symbolic=True)
    h, w = size if size is not None else (side + 32, side + 64)
    if min(h, w) < side:
        raise ValueError(f"example size {h}x{w} is below the exported ISR setting's minimum side {side}")
    param = next(model.parameters())
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0)).to(param.device)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints and tracer warnings (errors still propagate)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    example_size: Sequence[int] | None = None,
    dynamic: bool = True,
    opset: int = 18,
    exporter: OnnxExporter = "dynamo",
    max_side: int = 8192,
) -> Path:
    """Write ``model`` (eval mode, current ISR baked in) as ONNX with input ``images`` and output ``logits``.

    Args:
        model: an :class:`~edaformer.models.EDAFormer`.
        path: output file.
        example_size: ``(H, W)`` of the tracing example (default: a little above :func:`min_input_side`).
            With ``dynamic=False`` it is the one size the graph accepts.
        dynamic: batch, height and width symbolic. The ONNX graph holds no size checks: it is right for every
            side ≥ :func:`min_input_side` (it was traced with ``symbolic=True`` bounds, but the operators are
            size-generic), up to ``max_side``.
        opset: ONNX opset.
        exporter: ``"dynamo"`` (``torch.export``-based; default) or ``"torchscript"`` (the older tracer; faster
            to run on slow machines, same operators).
        max_side: upper bound of the dynamic height/width.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = _example(model, 2 if dynamic else 1, example_size)
    with _quiet(), torch.no_grad():
        if exporter == "dynamo":
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=_dynamic_shapes(model, max_side) if dynamic else None,
                verbose=False,
            )
            program.save(str(path))
        elif exporter == "torchscript":
            axes = {0: "batch", 2: "height", 3: "width"}
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=False,
                opset_version=min(opset, 17),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes} if dynamic else None,
            )
        else:
            raise ValueError(f"unknown ONNX exporter {exporter!r}; valid: dynamo, torchscript")
    return path


def export_torchscript(
    model: nn.Module, path: str | os.PathLike, *, example_size: Sequence[int] | None = None
) -> Path:
    """Trace ``model`` to TorchScript (sizes stay dynamic; ISR fixed) and save it for ``torch.jit.load``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(model, (_example(model, 1, example_size),), check_trace=False)
    traced.save(str(path))
    return path


def export_program(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    example_size: Sequence[int] | None = None,
    dynamic: bool = True,
    max_side: int = 8192,
) -> Path:
    """``torch.export`` the model (dynamic batch/height/width) and save a ``.pt2``.

    Load with ``torch.export.load(path).module()``; it checks its inputs: sides from
    ``min_input_side(model, symbolic=True)`` (e.g. 64 for the training ratios, 125 for ``paper``) to ``max_side``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    with _quiet(), torch.no_grad():
        program = torch.export.export(
            model,
            (_example(model, 2 if dynamic else 1, example_size),),
            dynamic_shapes=_dynamic_shapes(model, max_side) if dynamic else None,
        )
    torch.export.save(program, str(path))
    return path


# the exporters' loggers, which report every graph pass at INFO (hundreds of lines for one model)
EXPORTER_LOGGERS = ("onnx_ir", "onnxscript", "torch.onnx", "torch.export", "torch._export", "torch._dynamo")


@contextlib.contextmanager
def exporter_logs(verbose: bool) -> Iterator[None]:
    """Unless ``verbose``, the exporters' INFO and WARNING lines (e.g. about torchvision ops) hidden for the call."""
    loggers = [] if verbose else [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.level, logging.ERROR))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_model(
    model: nn.Module,
    path: str | os.PathLike,
    fmt: ExportFormat = "onnx",
    verbose: bool = False,
    **kwargs: object,
) -> Path:
    """Dispatch to :func:`export_onnx`, :func:`export_torchscript` or :func:`export_program`; the exporters' own
    INFO and WARNING lines only with ``verbose``."""
    exporters = {"onnx": export_onnx, "torchscript": export_torchscript, "exported_program": export_program}
    if fmt not in exporters:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMAT_SUFFIX)}")
    with exporter_logs(verbose):
        return exporters[fmt](model, path, **kwargs)  # type: ignore[arg-type, operator]


def worse_diff(worst: float, out: torch.Tensor, ref: torch.Tensor) -> float:
    """``max(worst, max |out − ref|)`` where NaN wins (Python's ``max(0.0, nan)`` is 0.0): a NaN or inf in either
    output is a NaN difference, never a perfect match."""
    diff = float((out.float() - ref.float()).abs().max())  # torch's max propagates NaN; inf - inf is NaN
    return diff if diff != diff or diff > worst else worst


def onnx_max_abs_diff(
    path: str | os.PathLike, model: nn.Module, sizes: Sequence[Sequence[int]], batch: int = 1, seed: int = 0
) -> float:
    """Largest ``|onnxruntime − PyTorch|`` over random images of each ``(H, W)`` in ``sizes`` (CPU provider)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    model = model.eval()
    for h, w in sizes:
        x = torch.randn(batch, 3, h, w, generator=gen)
        with torch.no_grad():
            ref = model(x.to(next(model.parameters()).device)).float().cpu()
        (out,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        if tuple(out.shape) != tuple(ref.shape):
            raise AssertionError(
                f"ONNX output shape {tuple(out.shape)} != PyTorch {tuple(ref.shape)} at {h}x{w}"
            )
        worst = worse_diff(worst, torch.from_numpy(out), ref)
    return worst


def max_abs_diff(
    path: str | os.PathLike,
    fmt: ExportFormat,
    model: nn.Module,
    sizes: Sequence[Sequence[int]],
    seed: int = 0,
) -> float:
    """Largest ``|exported − PyTorch|`` over random images of each ``(H, W)`` in ``sizes``: the file is reloaded
    (onnxruntime for ONNX, ``torch.jit.load`` / ``torch.export.load`` otherwise) and run on the CPU."""
    if fmt == "onnx":
        return onnx_max_abs_diff(path, model, sizes, seed=seed)
    loaded = torch.jit.load(str(path)) if fmt == "torchscript" else torch.export.load(str(path)).module()
    worst = 0.0
    gen = torch.Generator().manual_seed(seed)
    for h, w in sizes:
        x = torch.randn(1, 3, h, w, generator=gen)
        with torch.no_grad():
            worst = worse_diff(worst, loaded(x), model(x))
    return worst
