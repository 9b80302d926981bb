"""torch.profiler breakdown of one EDAFormer forward pass: where the time goes, by operator and input shape.

    python scripts/profile_model.py --model edaformer_t --isr paper --size 512x512 --threads 2
    python scripts/profile_model.py --memory-format contiguous --by-shape   # see the copies and the SDPA path

The tables in docs/benchmarks.md were read from this output.
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from ..models import create_model
from ..tools.benchmark import inference_call, prepare


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="edaformer_t")
    p.add_argument("--isr", default="train")
    p.add_argument("--classes", type=int, default=150)
    p.add_argument("--size", default="512x512", help="HxW")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--memory-format", choices=["contiguous", "channels_last"], default="channels_last")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--runs", type=int, default=3, help="profiled forward passes (after 2 warm-up)")
    p.add_argument("--rows", type=int, default=20)
    p.add_argument("--by-shape", action="store_true", help="also group the top operators by input shape")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    h, _, w = args.size.lower().partition("x")
    model = prepare(
        create_model(args.model, num_classes=args.classes, isr=args.isr).eval(),
        torch.device("cpu"),
        args.memory_format,
    )
    x = torch.randn(args.batch, 3, int(h), int(w or h))
    if args.memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    call = inference_call(model, x, args.precision)
    call()
    call()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=args.by_shape) as prof:
        for _ in range(args.runs):
            call()
    print(
        f"{args.model} ({args.isr}) {args.size} batch {args.batch} {args.memory_format} {args.precision}, "
        f"{torch.get_num_threads()} threads; times summed over {args.runs} runs"
    )
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if args.by_shape:
        top = sorted(averages, key=lambda e: -e.self_cpu_time_total)[:6]
        shaped = prof.key_averages(group_by_input_shape=True)
        for event in top:
            rows = sorted((e for e in shaped if e.key == event.key), key=lambda e: -e.self_cpu_time_total)[:6]
            print(event.key)
            for e in rows:
                print(
                    f"  {e.self_cpu_time_total / 1e3 / args.runs:8.2f} ms/run  x{e.count // args.runs}  "
                    f"{e.input_shapes[:3]}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
