"""Export an EDAFormer with its ISR setting baked in: ONNX (dynamic batch/H/W), TorchScript or torch.export.

Examples::

    python scripts/export.py --model edaformer_t --ckpt edaformer_t_ade.pth --isr paper --format onnx
    python scripts/export.py --ckpt run/last.ckpt --isr train --format torchscript,exported_program --verify
    python scripts/export.py --model edaformer_b --classes 19 --isr 16,8,2,1-2,4,8 --format onnx  # random weights

``--verify`` reloads the file (onnxruntime for ONNX) and prints the largest absolute difference to PyTorch on
random images of two sizes. Exported graphs accept any side ≥ the minimum printed (it depends on the ISR).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..tools.export import FORMAT_SUFFIX, export_model, min_input_side, onnx_max_abs_diff


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="edaformer_t or edaformer_b (read from --ckpt when it says)")
    p.add_argument("--ckpt", type=Path, default=None, help="our, the authors' or a Lightning checkpoint")
    p.add_argument("--classes", type=int, default=None, help="classes (needed without --ckpt; default 150)")
    p.add_argument(
        "--isr",
        default=None,
        help="ISR setting to bake in: train, dec2x, paper, aggressive or "
        "'s1,s2,s3,s4-d4,d3,d2' (default: the checkpoint's, else train)",
    )
    p.add_argument("--format", default="onnx", help=f"comma list of {', '.join(FORMAT_SUFFIX)}")
    p.add_argument(
        "--output", type=Path, default=None, help="output file (one format) or folder (default exports/)"
    )
    p.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo", help="ONNX exporter")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument(
        "--static", default=None, metavar="HxW", help="fixed input size instead of dynamic batch/H/W"
    )
    p.add_argument("--verify", action="store_true", help="reload and compare with PyTorch")
    return p


def load(args: argparse.Namespace) -> torch.nn.Module:
    if args.ckpt is not None:
        from ..checkpoints import load_model

        model, info = load_model(args.ckpt, model_name=args.model, num_classes=args.classes)
        print(f"loaded {info.model_name} ({info.num_classes} classes) from {args.ckpt}", file=sys.stderr)
        return model
    from ..models import create_model

    name = args.model or "edaformer_t"
    print(f"no --ckpt: exporting {name} with random weights", file=sys.stderr)
    return create_model(name, num_classes=args.classes or 150)


def _verify(model: torch.nn.Module, path: Path, fmt: str, sizes: list[tuple[int, int]]) -> float:
    if fmt == "onnx":
        return onnx_max_abs_diff(path, model, sizes)
    loaded = torch.jit.load(str(path)) if fmt == "torchscript" else torch.export.load(str(path)).module()
    worst = 0.0
    gen = torch.Generator().manual_seed(0)
    for h, w in sizes:
        x = torch.randn(1, 3, h, w, generator=gen)
        with torch.no_grad():
            worst = max(worst, float((loaded(x) - model(x)).abs().max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    for fmt in formats:
        if fmt not in FORMAT_SUFFIX:
            raise SystemExit(f"--format: unknown {fmt!r}; valid: {', '.join(FORMAT_SUFFIX)}")
    if args.output is not None and args.output.suffix and len(formats) > 1:
        raise SystemExit("--output names one file; pass a folder to export several formats")
    try:
        model = load(args)
        if args.isr is not None:
            model.set_isr(args.isr)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None
    model.eval()
    static = None
    if args.static:
        h, _, w = args.static.lower().partition("x")
        static = (int(h), int(w or h))
    side = min_input_side(model)
    name = getattr(args, "model", None) or ("edaformer_b" if model.encoder.dims[0] == 64 else "edaformer_t")
    for fmt in formats:
        if args.output is not None and args.output.suffix:
            path = args.output
        else:
            folder = args.output or Path("exports")
            path = folder / f"{name}_{str(model.isr).replace(',', '_')}{FORMAT_SUFFIX[fmt]}"
        kwargs: dict = {"example_size": static}
        if fmt == "onnx":
            kwargs.update(dynamic=static is None, opset=args.opset, exporter=args.exporter)
        elif fmt == "exported_program":
            kwargs.update(dynamic=static is None)
        try:
            export_model(model, path, fmt, **kwargs)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from None
        # a torch.export program checks its input range; ONNX and TorchScript graphs take any side >= ``side``
        lo = min_input_side(model, symbolic=True) if fmt == "exported_program" else side
        line = f"{fmt}: {path} (ISR {model.isr}; "
        line += f"input {static[0]}x{static[1]})" if static else f"dynamic batch/height/width, sides >= {lo})"
        if args.verify:
            sizes = [static] if static else [(lo, lo + 35), (max(lo, 128) + 16, max(lo, 200))]
            line += f"; max |diff| vs PyTorch {_verify(model, path, fmt, sizes):.2e}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
