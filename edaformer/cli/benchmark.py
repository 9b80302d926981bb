"""Latency, throughput and peak memory of EDAFormer (× ISR settings) against SegFormer, timed interleaved.

Examples (see docs/benchmarks.md for the tables these produce)::

    # EDAFormer-T, training ratios and the paper's ISR, against SegFormer-B0 at 512×512, batch 1, 2 threads
    python scripts/benchmark.py --models edaformer_t --isr train,paper --compare segformer-b0 --threads 2
    # Cityscapes-size whole-image inference (19 classes), peak memory included
    python scripts/benchmark.py --models edaformer_b --size 1024x2048 --classes 19 --repeats 3 --warmup 1
    # our fused attention vs the explicit q·kᵀ formulation
    python scripts/benchmark.py --models edaformer_t,edaformer_t:unfused
    # training step at the ADE20K recipe's crop and batch
    python scripts/benchmark.py --train --models edaformer_t --compare segformer-b0
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from ..tools.benchmark import (
    DATASET_CLASSES,
    SEGFORMER_VARIANTS,
    TRAIN_RECIPES,
    BenchmarkConfig,
    cache_large_allocations,
    markdown_table,
    recipe_batch,
    run_benchmark,
)


def _list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _size(text: str) -> tuple[int, int]:
    h, sep, w = text.lower().partition("x")
    try:
        size = (int(h), int(w)) if sep else (int(h), int(h))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW or S, got {text!r}") from None
    if min(size) < 32:
        raise argparse.ArgumentTypeError(f"image sides must be >= 32, got {text!r}")
    return size


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--models",
        type=_list,
        default=["edaformer_t"],
        help="comma list: edaformer_t, edaformer_b, NAME:unfused (explicit attention), or a SegFormer name",
    )
    p.add_argument(
        "--isr",
        type=_list,
        default=["train"],
        help="comma list of ISR settings for our models: "
        "train, dec2x, paper, aggressive or 's1,s2,s3,s4-d4,d3,d2' (';' separates custom ones)",
    )
    p.add_argument(
        "--compare", type=_list, default=[], help=f"SegFormer baselines: {', '.join(SEGFORMER_VARIANTS)}"
    )
    p.add_argument(
        "--size",
        type=lambda t: [_size(v) for v in _list(t)],
        default=None,
        help="comma list of HxW (default 512x512; --train: the recipe crop)",
    )
    p.add_argument(
        "--batch",
        type=lambda t: [int(v) for v in _list(t)],
        default=None,
        help="comma list of batch sizes (default 1; --train: the recipe batch)",
    )
    p.add_argument("--precision", type=_list, default=["fp32"], help="comma list of fp32, bf16, fp16 (CUDA)")
    p.add_argument(
        "--memory-format",
        type=_list,
        default=["channels_last"],
        help="comma list of contiguous, channels_last (applied to every model and input)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile every model")
    p.add_argument("--train", action="store_true", help="time training steps (fwd+loss+bwd+AdamW) instead")
    p.add_argument(
        "--dataset",
        choices=sorted(TRAIN_RECIPES),
        default="ade20k",
        help="recipe for --train crop/batch and the default class count",
    )
    p.add_argument("--classes", type=int, default=None, help="number of classes (default: the dataset's)")
    p.add_argument(
        "--output",
        choices=["full", "low"],
        default="full",
        help="logits at the input size (default, like whole-image inference) or at the head's own "
        "resolution (ours 1/8, SegFormer 1/4)",
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument(
        "--repeats", type=int, default=12, help="timed runs per model (>= 10 for reported numbers)"
    )
    p.add_argument("--warmup", type=int, default=2, help="untimed runs per model first")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    p.add_argument(
        "--malloc-cache",
        action="store_true",
        help="keep freed large blocks in glibc's heap (no page-fault cost for big outputs; all models)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write raw timings here")
    p.add_argument("--markdown", type=Path, default=None, help="also append the table to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    malloc = cache_large_allocations() if args.malloc_cache else False
    isr = [v.replace(";", ",") for v in args.isr] if args.isr else ["train"]
    all_names = [*args.models, *args.compare]
    if args.train:
        crop, batch = recipe_batch(args.dataset, all_names)
        sizes, batches = args.size or [crop], args.batch or [batch]
    else:
        sizes, batches = args.size or [(512, 512)], args.batch or [1]
    for fmt in args.memory_format:
        if fmt not in ("contiguous", "channels_last"):
            raise SystemExit(f"--memory-format: expected contiguous or channels_last, got {fmt!r}")
    for prec in args.precision:
        if prec not in ("fp32", "bf16", "fp16"):
            raise SystemExit(f"--precision: expected fp32, bf16 or fp16, got {prec!r}")
    config = BenchmarkConfig(
        models=args.models,
        isr=isr,
        compare=args.compare,
        sizes=sizes,
        batches=batches,
        precisions=args.precision,
        memory_formats=args.memory_format,
        compile=args.compile,
        train=args.train,
        num_classes=args.classes or DATASET_CLASSES[args.dataset],
        output=args.output,
        device=args.device,
        repeats=args.repeats,
        warmup=args.warmup,
        measure_memory=not args.no_memory,
    )
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        results = run_benchmark(config, log=log)
    except (ValueError, ImportError) as err:
        raise SystemExit(f"error: {err}") from None
    machine = (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
        if config.device == "cpu"
        else torch.cuda.get_device_name(torch.device(config.device))
    )
    header = (
        f"`{' '.join(['python scripts/benchmark.py', *(argv if argv is not None else sys.argv[1:])])}`  \n"
        f"device {config.device} ({machine}); {config.num_classes} classes; output {config.output}; "
        f"{config.repeats} timed runs after {config.warmup} warm-up, interleaved"
        + ("; malloc cache on" if malloc else "")
    )
    table = markdown_table(results, baselines=list(args.compare))
    print(header + "\n\n" + table)
    if args.markdown is not None:
        with args.markdown.open("a") as f:
            f.write(header + "\n\n" + table + "\n\n")
    if args.json is not None:
        payload = [{**asdict(r), "median_ms": r.median_ms, "images_per_s": r.images_per_s} for r in results]
        args.json.write_text(json.dumps({"header": header, "results": payload}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
