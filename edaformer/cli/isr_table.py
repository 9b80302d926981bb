"""Gather an ISR sweep (``eval.py -m ... isr=train,dec2x,paper,aggressive``) into the paper's Table 4.

Reads every ``results.json`` under a multirun dir and writes ``isr_table.md``, ``isr_table.csv`` and
``isr_table.png`` (mIoU against GFLOPs) there. Deltas are relative to the ``train`` row (the first row if absent).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .utils import write_csv

ORDER = ("train", "dec2x", "paper", "aggressive")


def collect(multirun_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Result rows of every job under ``multirun_dir``, in the paper's setting order."""
    root = Path(multirun_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {root}")
    rows = []
    for path in sorted(root.rglob("results.json")):
        rows.extend(json.loads(path.read_text())["results"])
    if not rows:
        raise FileNotFoundError(
            f"no results.json under {root} (run: python eval.py -m ckpt_path=... isr=...)"
        )
    return sorted(
        rows, key=lambda r: (ORDER.index(r["setting"]) if r["setting"] in ORDER else len(ORDER), r["gflops"])
    )


def table_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of Table 4: setting, ratios, params (M), GFLOPs, ΔGFLOPs %, metric (%), Δ metric (points)."""
    metric = "mIoU" if "mIoU" in rows[0] else "top1"
    base = next((r for r in rows if r["setting"] == "train"), rows[0])
    out = []
    for r in rows:
        out.append(
            {
                "setting": r["setting"],
                "isr": r["isr"],
                "params_M": round(r["params"] / 1e6, 2),
                "gflops": round(r["gflops"], 2),
                "delta_gflops_pct": round(100 * (r["gflops"] - base["gflops"]) / base["gflops"], 1),
                metric: round(100 * r[metric], 2),
                f"delta_{metric}": round(100 * (r[metric] - base[metric]), 2),
            }
        )
    return out


def markdown(rows: Sequence[dict[str, Any]], flops_size: str) -> str:
    metric = "mIoU" if "mIoU" in rows[0] else "top1"
    lines = [
        f"| setting | encoder-decoder | params (M) | GFLOPs ({flops_size}) | Δ GFLOPs | {metric} (%) | Δ {metric} |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['isr']} | {r['params_M']:.2f} | {r['gflops']:.2f} | {r['delta_gflops_pct']:+.1f} % "
            f"| {r[metric]:.2f} | {r[f'delta_{metric}']:+.2f} |"
        )
    return "\n".join(lines)


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = "mIoU" if "mIoU" in rows[0] else "top1"
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    xs, ys = [r["gflops"] for r in rows], [r[metric] for r in rows]
    ax.plot(xs, ys, "o-")
    for r, x, y in zip(rows, xs, ys):
        ax.annotate(r["setting"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("GFLOPs")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title("ISR trade-off (same weights)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def log_wandb_table(run: Any, results: Sequence[dict[str, Any]]) -> None:
    """Log the ISR results as a ``wandb.Table`` named ``isr_table`` on an active W&B run."""
    import wandb

    rows = table_rows(results)
    run.log({"isr_table": wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])})


def build_table(multirun_dir: str | os.PathLike) -> str:
    """Write ``isr_table.{md,csv,png}`` into ``multirun_dir``; returns the Markdown table."""
    root = Path(multirun_dir)
    results = collect(root)
    rows = table_rows(results)
    text = markdown(rows, results[0]["flops_size"])
    (root / "isr_table.md").write_text(text + "\n")
    write_csv(root / "isr_table.csv", rows)
    plot(rows, root / "isr_table.png")
    return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("multirun_dir", help="the multirun dir of an `eval.py -m ... isr=...` sweep")
    parser.add_argument(
        "--wandb", action="store_true", help="also log the table to W&B (offline without a key)"
    )
    parser.add_argument("--project", default="edaformer", help="W&B project (with --wandb)")
    args = parser.parse_args(argv)
    try:
        text = build_table(args.multirun_dir)
    except FileNotFoundError as err:
        parser.exit(2, f"error: {err}\n")
    print(text)
    print(f"\nwrote isr_table.md / .csv / .png in {args.multirun_dir}")
    if args.wandb:
        import wandb

        from .utils import prepare_wandb_env

        prepare_wandb_env()
        run = wandb.init(project=args.project, job_type="isr_table", dir=args.multirun_dir)
        log_wandb_table(run, collect(args.multirun_dir))
        run.finish()
