"""The paper's Table 4 from an ISR sweep (``edaformer-eval -m ... isr=train,dec2x,paper,aggressive``).

:func:`build_table` reads every ``results.json`` under a multirun dir and writes ``isr_table.md``, ``.csv`` and
``.png`` (mIoU against GFLOPs) there. Each row shows the ratios the weights were trained at next to those of the
evaluation; deltas are relative to the row evaluated at the training ratios (the first row if absent). When the
sweep is EDAFormer-T/B on one of the paper's benchmarks, evaluated single-scale, the paper's Table 4 mIoU stands
beside ours (columns ``paper_mIoU``, ``ours_minus_paper``) and in the plot. Below the table: the checkpoint the rows
describe (file and step) and, when jobs of the sweep failed, which ones are missing and why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..files import write_csv
from ..models import ISR_PRESETS
from ..results import ResultRow, failed_jobs, read_result_rows
from ..tables import markdown_table
from ..viz.tradeoff import benchmark_of, paper_miou, sort_rows, tradeoff_figure

__all__ = ["IsrTable", "build_table", "collect", "log_wandb_table", "table_rows"]

STANDARD = str(ISR_PRESETS["train"])
log = logging.getLogger("edaformer")


def collect(multirun_dir: str | os.PathLike) -> list[ResultRow]:
    """Result rows of every job under ``multirun_dir``, in the paper's setting order."""
    root = Path(multirun_dir)
    if not root.is_dir():
        raise UserError(f"sweep_dir={root}: not a directory")
    try:
        return sort_rows(read_result_rows([root], names=("results.json",)))
    except FileNotFoundError:
        failed, _ = failed_jobs(root)
        why = f"; every job failed: {missing_note(failed)}" if failed else ""
        raise UserError(
            f"no results.json under {root} (run: edaformer-eval -m ckpt_path=... isr=...){why}"
        ) from None


def missing_note(failed: dict[str, str]) -> str:
    """The settings a sweep lacks, as its failed jobs (folder names, which name the overrides) and their errors."""
    return "; ".join(f"{name}: {error}" for name, error in failed.items())


def table_rows(rows: Sequence[ResultRow]) -> list[dict[str, Any]]:
    """Rows of Table 4: setting, ratios, params (M), GFLOPs, ΔGFLOPs %, metric (%), Δ metric (points); plus the
    paper's mIoU and ours minus the paper's when a row has a comparable paper number
    (:func:`~edaformer.viz.tradeoff.paper_miou`)."""
    metric = rows[0].metric
    base = next((r for r in rows if r.isr == (r.train_isr or STANDARD)), rows[0])
    papers = [paper_miou(r) for r in rows]
    with_paper = any(p is not None for p in papers)  # a row without one (other training ratios) shows none
    out = []
    for r, paper in zip(rows, papers):
        score = 100 * float(r.score)  # type: ignore[arg-type]
        row = {
            "setting": r.setting,
            "isr": r.isr,
            "train_isr": r.train_isr or STANDARD,
            "params_M": round((r.params or 0) / 1e6, 2),
            "gflops": round(r.gflops, 2),
            "delta_gflops_pct": round(100 * (r.gflops - base.gflops) / base.gflops, 1),
            metric: round(score, 2),
            f"delta_{metric}": round(score - 100 * float(base.score), 2),  # type: ignore[arg-type]
        }
        if with_paper:
            row["paper_mIoU"] = paper
            row["ours_minus_paper"] = None if paper is None else round(score - paper, 2)
        out.append(row)
    return out


def markdown(rows: Sequence[dict[str, Any]], metric: str, flops_size: str, note: str = "") -> str:
    """Markdown of :func:`table_rows`; ``note`` is printed below it."""
    header = ["setting", "encoder-decoder", "trained at", "params (M)", f"GFLOPs ({flops_size})", "Δ GFLOPs",
              f"{metric} (%)", f"Δ {metric}"]  # fmt: skip
    paper = "paper_mIoU" in rows[0]
    if paper:
        header += ["paper mIoU (%)", "ours − paper"]
    cells = []
    for r in rows:
        line = [r["setting"], r["isr"], r["train_isr"], f"{r['params_M']:.2f}", f"{r['gflops']:.2f}",
                f"{r['delta_gflops_pct']:+.1f} %", f"{r[metric]:.2f}", f"{r[f'delta_{metric}']:+.2f}"]  # fmt: skip
        if paper:
            known = r["paper_mIoU"] is not None
            line += [
                f"{r['paper_mIoU']:.1f}" if known else None,
                f"{r['ours_minus_paper']:+.2f}" if known else None,
            ]
        cells.append(line)
    return markdown_table(header, cells) + (f"\n\n{note}" if note else "")


def paper_note(results: Sequence[ResultRow]) -> str:
    """The paper's model trained at the aggressive ratios (Table 4's row marked *), when the sweep has that row."""
    aggressive = next(
        (r for r in results if r.setting == "aggressive" and (r.train_isr or STANDARD) == STANDARD), None
    )
    value = paper_miou(aggressive, "aggressive_trained") if aggressive is not None else None
    if value is None:
        return ""
    return (
        f"Paper, Table 4 (*): the same model *trained* at the aggressive ratios and evaluated there: {value:.1f} mIoU "
        "(train with model.train_isr=aggressive to reproduce it: experiment=edaformer_t_ade20k_aggressive_full)."
    )


@dataclass
class IsrTable:
    """A sweep's Table 4: the result rows, the table rows and the Markdown text."""

    results: list[ResultRow]
    rows: list[dict[str, Any]]
    text: str


def build_table(multirun_dir: str | os.PathLike) -> IsrTable:
    """Write ``isr_table.{md,csv,png}`` into ``multirun_dir``."""
    root = Path(multirun_dir)
    results = collect(root)
    rows = table_rows(results)
    failed, ran = failed_jobs(root)
    checkpoints = sorted({r.checkpoint for r in results if r.checkpoint})
    described = f"Checkpoint{'s' * (len(checkpoints) > 1)}: {', '.join(checkpoints)}." if checkpoints else ""
    note = "\n\n".join(filter(None, [described, paper_note(results)]))
    if failed:  # the table is made of the jobs that succeeded; it says which did not
        missing = f"Missing: {len(failed)} of {ran} jobs failed ({missing_note(failed)})."
        log.warning(missing)
        note = "\n\n".join(filter(None, [note, missing]))
    text = markdown(rows, results[0].metric, str(results[0].flops_size), note)
    (root / "isr_table.md").write_text(text + "\n")
    write_csv(root / "isr_table.csv", rows)
    dataset = benchmark_of(results[0])
    reference = (str(results[0].model), dataset) if dataset and results[0].model else None
    fig = tradeoff_figure(results, reference=reference, metric=results[0].metric)
    fig.savefig(root / "isr_table.png", dpi=120)
    return IsrTable(results, rows, text)


def log_wandb_table(run: Any, results: Sequence[ResultRow]) -> None:
    """Log the ISR results as a ``wandb.Table`` named ``isr_table`` on an active W&B run."""
    import wandb

    rows = table_rows(results)
    run.log({"isr_table": wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])})
