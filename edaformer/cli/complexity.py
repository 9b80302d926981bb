#!/usr/bin/env python
"""Params and GFLOPs (multiply-accumulates, the paper's convention) of any model × ISR × input size.

    python scripts/complexity.py --model edaformer_t --num-classes 150 --size 512 512 --isr 16,8,2,1-2,4,8
    python scripts/complexity.py --table      # the paper's Tables 1 and 4 next to ours, with differences

Counting runs on the ``meta`` device (shapes only), so even EDAFormer-B at 1024×2048 takes about a second.
"""

from __future__ import annotations

import argparse
import sys

import torch

from ..complexity import count_flops, count_params
from ..models import ISR_PRESETS, MODELS, create_model
from ..paper import BENCHMARKS, PAPER_GFLOPS, PAPER_PARAMS, within_tolerance


def build(name: str, num_classes: int | None):
    with torch.device("meta"):  # no weights are allocated or initialised
        return create_model(name, num_classes=num_classes)


def paper_table() -> tuple[str, bool]:
    """Markdown rows for every EDAFormer cell of Tables 1/4 plus the params rows; and whether all match."""
    lines = [
        "| model | dataset (size, classes) | ISR setting | GFLOPs (ours) | GFLOPs (paper) | diff |",
        "|---|---|---|---:|---:|---:|",
    ]
    all_ok = True
    models = {}
    for (name, preset, dataset), paper in PAPER_GFLOPS.items():
        bench = BENCHMARKS[dataset]
        key = (name, bench.num_classes)
        if key not in models:
            models[key] = build(name, bench.num_classes)
        model = models[key]
        model.set_isr(preset)
        ours = count_flops(model, (3, bench.height, bench.width))
        ok = within_tolerance(dataset, ours, paper)
        all_ok &= ok
        lines.append(
            f"| {name} | {dataset} ({bench.height}×{bench.width}, {bench.num_classes}) | {preset} "
            f"({ISR_PRESETS[preset]}) | {ours:.2f} | {paper:.1f} | {ours - paper:+.2f}{'' if ok else ' ✗'} |"
        )
    lines += [
        "",
        "| model | classes | params M (ours) | params M (paper) | diff | GFLOPs 224² (ours / paper) |",
    ]
    lines.append("|---|---:|---:|---:|---:|---|")
    for name, (paper_m, classes, paper_g) in PAPER_PARAMS.items():
        model = build(name, classes)
        ours_m = count_params(model) / 1e6
        ok = abs(ours_m - paper_m) <= 0.06
        gflops = ""
        if paper_g is not None:
            ours_g = count_flops(model, (3, 224, 224))
            ok &= abs(ours_g - paper_g) <= 0.06
            gflops = f"{ours_g:.2f} / {paper_g:.1f}"
        all_ok &= ok
        lines.append(
            f"| {name} | {classes} | {ours_m:.3f} | {paper_m:.1f} | {ours_m - paper_m:+.3f}{'' if ok else ' ✗'} "
            f"| {gflops} |"
        )
    return "\n".join(lines), all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(MODELS), default="edaformer_t")
    parser.add_argument(
        "--num-classes", type=int, default=None, help="default: 150 (segmentors), 1000 (eft_*)"
    )
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=(512, 512))
    parser.add_argument(
        "--isr",
        default="train",
        help=f"preset ({', '.join(ISR_PRESETS)}) or absolute ratios '16,8,2,1-2,4,8'",
    )
    parser.add_argument("--table", action="store_true", help="print the paper's Tables 1 and 4 next to ours")
    args = parser.parse_args(argv)

    if args.table:
        table, ok = paper_table()
        print(table)
        print("\nall cells within tolerance" if ok else "\nSOME CELLS OUT OF TOLERANCE (✗)")
        return 0 if ok else 1

    try:
        model = build(args.model, args.num_classes)
        model.set_isr(args.isr)
    except ValueError as err:
        parser.error(str(err))
    gflops = count_flops(model, (3, *args.size))
    print(
        f"{args.model}  classes={model.num_classes}  input=3×{args.size[0]}×{args.size[1]}  ISR={model.isr}\n"
        f"params: {count_params(model):,} ({count_params(model) / 1e6:.2f} M)\n"
        f"GFLOPs: {gflops:.3f} (multiply-accumulates ×1e-9)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
