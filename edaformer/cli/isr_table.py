"""``edaformer-isr-table``: gather an ISR sweep (``edaformer-eval -m ... isr=train,dec2x,paper,aggressive``) into
the paper's Table 4. Arguments: ``conf/isr_table.yaml`` (``edaformer-isr-table --help``).

Reads every ``results.json`` under a multirun dir and writes ``isr_table.md``, ``isr_table.csv`` and
``isr_table.png`` (mIoU against GFLOPs) there. Each row shows the ratios the weights were trained at (``train_isr``)
next to those of the evaluation; deltas are relative to the row evaluated at the training ratios (the first row if
absent). When the sweep is EDAFormer-T/B on one of the paper's benchmarks, evaluated single-scale, the paper's
Table 4 mIoU stands beside ours (columns ``paper_mIoU``, ``ours_minus_paper``) and in the plot: for a checkpoint
trained at the aggressive ratios, its aggressive row is compared with the row marked * in the paper.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from ..files import write_csv
from ..models import ISR_PRESETS
from ..viz.tradeoff import benchmark_of, paper_miou, tradeoff_figure
from .utils import CONF_DIR, UserError, prepare_wandb_env, report_user_errors, run_hydra_main

ORDER = ("train", "dec2x", "paper", "aggressive")


def collect(multirun_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Result rows of every job under ``multirun_dir``, in the paper's setting order."""
    root = Path(multirun_dir)
    if not root.is_dir():
        raise UserError(f"sweep_dir={root}: not a directory")
    rows = []
    for path in sorted(root.rglob("results.json")):
        rows.extend(json.loads(path.read_text())["results"])
    if not rows:
        raise FileNotFoundError(
            f"no results.json under {root} (run: edaformer-eval -m ckpt_path=... isr=...)"
        )
    return sorted(
        rows, key=lambda r: (ORDER.index(r["setting"]) if r["setting"] in ORDER else len(ORDER), r["gflops"])
    )


def table_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of Table 4: setting, ratios, params (M), GFLOPs, ΔGFLOPs %, metric (%), Δ metric (points); plus the
    paper's mIoU and ours minus the paper's when every row has a comparable paper number (see
    :func:`~edaformer.viz.tradeoff.paper_miou`)."""
    metric = "mIoU" if "mIoU" in rows[0] else "top1"
    base = next((r for r in rows if r["isr"] == r.get("train_isr", str(ISR_PRESETS["train"]))), rows[0])
    papers = [paper_miou(r) for r in rows]
    with_paper = any(p is not None for p in papers)  # a row without one (other training ratios) shows none
    out = []
    for r, paper in zip(rows, papers):
        row = {
            "setting": r["setting"],
            "isr": r["isr"],
            "train_isr": r.get("train_isr", str(ISR_PRESETS["train"])),
            "params_M": round(r["params"] / 1e6, 2),
            "gflops": round(r["gflops"], 2),
            "delta_gflops_pct": round(100 * (r["gflops"] - base["gflops"]) / base["gflops"], 1),
            metric: round(100 * r[metric], 2),
            f"delta_{metric}": round(100 * (r[metric] - base[metric]), 2),
        }
        if with_paper:
            row["paper_mIoU"] = paper
            row["ours_minus_paper"] = None if paper is None else round(100 * r[metric] - paper, 2)
        out.append(row)
    return out


def markdown(rows: Sequence[dict[str, Any]], flops_size: str, note: str = "") -> str:
    """Markdown of :func:`table_rows`; ``note`` is printed below it."""
    metric = "mIoU" if "mIoU" in rows[0] else "top1"
    paper = "paper_mIoU" in rows[0]
    header = (
        f"| setting | encoder-decoder | trained at | params (M) | GFLOPs ({flops_size}) | Δ GFLOPs | {metric} (%) "
        f"| Δ {metric} |"
    )
    if paper:
        header += " paper mIoU (%) | ours − paper |"
    lines = [header, "|---" * header.count(" |") + "|"]
    for r in rows:
        line = (
            f"| {r['setting']} | {r['isr']} | {r['train_isr']} | {r['params_M']:.2f} | {r['gflops']:.2f} | {r['delta_gflops_pct']:+.1f} % "
            f"| {r[metric]:.2f} | {r[f'delta_{metric}']:+.2f} |"
        )
        if paper:
            if r["paper_mIoU"] is None:
                line += " — | — |"
            else:
                line += f" {r['paper_mIoU']:.1f} | {r['ours_minus_paper']:+.2f} |"
        lines.append(line)
    if note:
        lines += ["", note]
    return "\n".join(lines)


def paper_note(results: Sequence[dict[str, Any]]) -> str:
    """The paper's model trained at the aggressive ratios (Table 4's row marked *), when the sweep has that row."""
    standard = str(ISR_PRESETS["train"])
    aggressive = next(
        (r for r in results if r["setting"] == "aggressive" and r.get("train_isr", standard) == standard),
        None,
    )
    value = paper_miou(aggressive, "aggressive_trained") if aggressive is not None else None
    if value is None:
        return ""
    return (
        f"Paper, Table 4 (*): the same model *trained* at the aggressive ratios and evaluated there: {value:.1f} mIoU "
        "(train with model.train_isr=aggressive to reproduce it: experiment=edaformer_t_ade20k_aggressive_full)."
    )


def reference_of(results: Sequence[dict[str, Any]]) -> tuple[str, str] | None:
    """``(model, benchmark)`` of the paper's numbers the sweep compares with, or ``None``."""
    dataset = benchmark_of(results[0])
    model = results[0].get("model")
    return (str(model), dataset) if dataset and model else None


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
    text = markdown(rows, results[0]["flops_size"], paper_note(results))
    (root / "isr_table.md").write_text(text + "\n")
    write_csv(root / "isr_table.csv", rows)
    metric = "mIoU" if "mIoU" in results[0] else "top1"
    fig = tradeoff_figure(results, reference=reference_of(results), metric=metric)
    fig.savefig(root / "isr_table.png", dpi=120)
    return text


@hydra.main(config_path=str(CONF_DIR), config_name="isr_table", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    text = build_table(cfg.sweep_dir)
    print(text)
    print(f"\nwrote isr_table.md / .csv / .png in {cfg.sweep_dir}")
    if cfg.wandb:
        import wandb

        prepare_wandb_env()
        run = wandb.init(project=cfg.wandb_project, job_type="isr_table", dir=cfg.sweep_dir)
        log_wandb_table(run, collect(cfg.sweep_dir))
        run.finish()


def main() -> int:
    """Entry point of ``edaformer-isr-table`` (and ``scripts/isr_table.py``)."""
    return run_hydra_main(_main)
