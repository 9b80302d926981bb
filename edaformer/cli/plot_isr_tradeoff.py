"""Plot the ISR trade-off (mIoU against GFLOPs, and latency) from ``eval.py`` results.

    python eval.py -m ckpt_path=CKPT isr=train,dec2x,paper,aggressive      # the sweep (paper's Table 4)
    python scripts/plot_isr_tradeoff.py outputs/eval/multiruns/<date> -o isr_tradeoff.png [--latency]

Inputs are result files or folders searched for ``results.json`` (one per sweep job) and ``isr_results.json``
(written after training). ``--latency`` times one forward pass per setting with the rows' checkpoint (CPU unless
``--device``), at the rows' FLOPs size. The paper's Table 4 (GFLOPs as reference lines, single-scale mIoU as open
markers) is drawn beside ours when the rows are EDAFormer-T/B on ADE20K or COCO-Stuff at 512×512 or Cityscapes at
1024×2048 (``--reference`` forces a benchmark, ``--reference none`` hides it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..checkpoints import load_model
from ..tools.benchmark import measure_latency
from ..viz.tradeoff import benchmark_of, load_result_rows, tradeoff_figure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", nargs="+", help="result files or folders (e.g. an eval.py multirun dir)")
    parser.add_argument("-o", "--output", default="isr_tradeoff.png", help="figure file (png, pdf, svg)")
    parser.add_argument("--latency", action="store_true", help="also time each setting with the checkpoint")
    parser.add_argument("--ckpt", help="checkpoint to time (default: the rows' ckpt)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="latency input size")
    parser.add_argument("--repeats", type=int, default=10, help="timed forward passes per setting")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--reference", choices=["auto", "none", "ade20k", "cityscapes", "coco_stuff"], default="auto"
    )
    parser.add_argument("--title")
    parser.add_argument("--dpi", type=int, default=150)
    return parser.parse_args(argv)


def _run_checkpoint(run_dir: Path) -> str | None:
    """The best (else last) checkpoint of a train.py run dir, whose ``isr_results.json`` rows name none."""
    found = sorted((run_dir / "checkpoints").glob("best*.ckpt")) or sorted(
        (run_dir / "checkpoints").glob("last.ckpt")
    )
    return str(found[-1]) if found else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = load_result_rows(args.results)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    model_name = str(rows[0].get("model") or "edaformer_t")
    if args.latency:
        ckpt = args.ckpt or rows[0].get("ckpt") or _run_checkpoint(Path(rows[0]["source"]).parent)
        if not ckpt or not Path(ckpt).is_file():
            print(f"error: --latency needs a checkpoint (--ckpt); rows name {ckpt!r}", file=sys.stderr)
            return 2
        model, info = load_model(ckpt)
        model_name = info.model_name
        size = args.size or [int(v) for v in str(rows[0].get("flops_size", "512x512")).split("x")]
        times = measure_latency(model, [r["isr"] for r in rows], size, args.repeats, device=args.device)
        for r in rows:
            r["latency_ms"] = times[r["isr"]]
    latency_label = "latency (ms / image)"
    if args.latency:
        latency_label = f"{args.device.upper()} latency at {size[0]}x{size[1]}, batch 1 (ms, median)"
    reference = None
    if args.reference == "auto":
        dataset = benchmark_of(rows[0])
        reference = (model_name, dataset) if dataset else None
    elif args.reference != "none":
        reference = (model_name, args.reference)
    fig = tradeoff_figure(rows, reference=reference, title=args.title, latency_label=latency_label)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=args.dpi)
    for r in rows:
        latency = f", {r['latency_ms']:.1f} ms" if "latency_ms" in r else ""
        print(
            f"{r.get('setting', r['isr']):>10}  {r['isr']:>16}  {r['gflops']:.3f} GFLOPs  "
            f"{100 * r['mIoU']:.2f} mIoU{latency}"
        )
    print(f"trade-off figure: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
