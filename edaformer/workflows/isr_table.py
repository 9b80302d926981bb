"""The paper's Table 4 from an ISR sweep (``edaformer-eval -m ... isr=train,dec2x,paper,aggressive``), or from
several sweeps side by side (one column group per dataset, as the paper lays out ADE20K, Cityscapes and COCO-Stuff).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..errors import UserError
from ..files import write_csv
from ..models import ISR_PRESETS
from ..paper import PAPER_MIOU
from ..results import ResultRow, failed_jobs, read_result_rows
from ..tables import markdown_table
from ..viz.tradeoff import PRESET_ORDER, benchmark_of, paper_miou, sort_rows, tradeoff_figure

__all__ = [
    "IsrTable",
    "build_table",
    "build_tables",
    "collect",
    "log_wandb_table",
    "side_by_side_rows",
    "table_rows",
]

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
    """Table 4 of one sweep or several: the result rows, the table rows, the Markdown text; where it was written,
    from which sweeps, and the W&B run it was logged to (its name)."""

    results: list[ResultRow]
    rows: list[dict[str, Any]]
    text: str
    output_dir: Path | None = None
    sweeps: list[Path] = field(default_factory=list)
    wandb_run: str = ""


def isr_table(cfg: DictConfig) -> IsrTable:
    """``edaformer-isr-table``'s verb: :func:`build_tables` of ``cfg.sweep_dir`` (one or a list), logged to W&B
    with ``cfg.wandb`` (:func:`log_wandb_run`)."""
    dirs = [cfg.sweep_dir] if isinstance(cfg.sweep_dir, str) else [str(d) for d in cfg.sweep_dir]
    if not dirs:
        raise UserError("sweep_dir=[]: give a multirun dir, or a list of them")
    table = build_tables(dirs, cfg.output_dir)
    if cfg.wandb:
        table.wandb_run = log_wandb_run(table, str(cfg.wandb_project))
    return table


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
    return IsrTable(results, rows, text, root, [root])


def log_wandb_table(run: Any, results: Sequence[ResultRow]) -> None:
    """Log the ISR results as a ``wandb.Table`` named ``isr_table`` on an active W&B run."""
    import wandb

    rows = table_rows(results)
    run.log({"isr_table": wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])})


def log_wandb_run(table: IsrTable, project: str) -> str:
    """Log ``table`` as a W&B run of its own (job type ``isr_table``) and return its name: named
    ``isr_table_<sweep folder>[+...]``, grouped with its sweep's jobs (one sweep), tagged with the models and
    datasets, its config each sweep's dir and overrides (``multirun.yaml``) and its rows' checkpoints; files
    inside the output dir."""
    import wandb

    from ..lit.loggers import keep_wandb_files_in, prepare_wandb_env

    out = Path(table.output_dir or ".")
    keep_wandb_files_in(out)
    prepare_wandb_env()
    config = {}
    for sweep in table.sweeps:
        rows = [
            r for r in table.results if r.source and Path(r.source).resolve().is_relative_to(sweep.resolve())
        ]
        config[sweep.name] = {
            "dir": str(sweep.resolve()),
            "overrides": _sweep_overrides(sweep),
            "models": sorted({str(r.model) for r in rows}),
            "data": sorted({str(r.data) for r in rows}),
            "checkpoints": sorted({str(r.ckpt) for r in rows if r.ckpt}),
        }
    name = "isr_table_" + "+".join(s.name for s in table.sweeps)
    tags = sorted({str(r.model) for r in table.results} | {_column_key(r)[1] for r in table.results})
    group = table.sweeps[0].name if len(table.sweeps) == 1 else None
    run = wandb.init(project=project, name=name, group=group, job_type="isr_table", tags=["isr_table", *tags],
                     config={"sweeps": config}, dir=str(out))  # fmt: skip
    run.log(
        {"isr_table": wandb.Table(columns=list(table.rows[0]), data=[list(r.values()) for r in table.rows])}
    )
    run.finish()
    return name


def _sweep_overrides(sweep: Path) -> list[str]:
    """The overrides of the sweep's command line (``<sweep>/multirun.yaml``), or none when it has no such file."""
    path = sweep / "multirun.yaml"
    return [str(o) for o in OmegaConf.load(path).hydra.overrides.task] if path.is_file() else []


def build_tables(
    sweep_dirs: Sequence[str | os.PathLike], output_dir: str | os.PathLike | None = None
) -> IsrTable:
    """One sweep: :func:`build_table`. Several: Table 4 with their datasets side by side
    (:func:`side_by_side_rows`), written as ``isr_table.{md,csv}`` into ``output_dir`` (default: the first sweep's
    dir)."""
    if len(sweep_dirs) == 1 and output_dir in (None, sweep_dirs[0]):
        return build_table(sweep_dirs[0])
    results = [collect(d) for d in sweep_dirs]
    rows, text = side_by_side_rows(results, [Path(d) for d in sweep_dirs])
    out = Path(output_dir if output_dir is not None else sweep_dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    (out / "isr_table.md").write_text(text + "\n")
    write_csv(out / "isr_table.csv", rows)
    return IsrTable([r for sweep in results for r in sweep], rows, text, out, [Path(d) for d in sweep_dirs])


# a table row: (ISR setting, encoder-decoder ratios, training ratios); a column group: (model, dataset)
RowKey = tuple[str, str, str]
ColumnKey = tuple[str, str]
AGGRESSIVE = str(ISR_PRESETS["aggressive"])
STAR: RowKey = (
    "aggressive",
    AGGRESSIVE,
    AGGRESSIVE,
)  # the paper's row *: trained and evaluated at these ratios


def _row_key(row: ResultRow) -> RowKey:
    return row.setting, row.isr, row.train_isr or STANDARD


def _column_key(row: ResultRow) -> ColumnKey:
    return str(row.model or "?"), benchmark_of(row) or str(row.data or "?").rsplit(".", 1)[-1]


def side_by_side_rows(
    sweeps: Sequence[Sequence[ResultRow]], dirs: Sequence[Path]
) -> tuple[list[dict[str, Any]], str]:
    """Table 4 with a column group per (model, dataset) of the sweeps: GFLOPs, mIoU (%) and, where the paper has
    comparable numbers (:func:`~edaformer.viz.tradeoff.paper_miou`), the paper's mIoU and ours minus it. Rows are
    the settings in the paper's order, then those of weights trained at other ratios (marked *: the paper's row *
    is a sweep of a checkpoint trained at the aggressive ratios, e.g. from
    ``experiment=edaformer_t_ade20k_aggressive_finetune``; its paper number is shown even where no sweep has it).
    Two sweeps with a result for the same cell are a :class:`UserError`. Returns the CSV rows (one per setting, a
    ``<dataset>_<field>`` column per cell) and the Markdown text."""
    cells: dict[tuple[RowKey, ColumnKey], ResultRow] = {}
    where: dict[tuple[RowKey, ColumnKey], Path] = {}
    for results, folder in zip(sweeps, dirs):
        for r in results:
            cell = (_row_key(r), _column_key(r))
            if cell in cells:
                model, data = cell[1]
                raise UserError(
                    f"sweep_dir: {r.setting} ({r.isr}) of {model} on {data} is in both {where[cell]} and {folder}"
                )
            cells[cell], where[cell] = r, folder
    columns = list(dict.fromkeys(column for _, column in cells))
    comparable = {
        c: any(paper_miou(r) is not None for (_, col), r in cells.items() if col == c) for c in columns
    }
    keys = list(dict.fromkeys(row for row, _ in cells))
    if any(comparable.values()) and STAR not in keys:
        keys.append(STAR)
    keys.sort(key=lambda k: (k[2] != STANDARD, PRESET_ORDER.index(k[0]) if k[0] in PRESET_ORDER else 9, k[1]))
    models = {model for model, _ in columns}
    label = {c: c[1] if len(models) == 1 else f"{c[1]} ({c[0]})" for c in columns}
    rows, lines = [], []
    for key in keys:
        setting, isr, trained = key
        name = f"{setting} *" if trained != STANDARD else setting
        row: dict[str, Any] = {"setting": name, "isr": isr, "train_isr": trained}
        line: list[str | None] = [name, isr, trained]
        for c in columns:
            result = cells.get((key, c))
            score = None if result is None else round(100 * float(result.score), 2)  # type: ignore[arg-type]
            row[f"{label[c]}_gflops"] = None if result is None else round(result.gflops, 2)
            row[f"{label[c]}_mIoU"] = score
            line += [_shown(row[f"{label[c]}_gflops"], ".2f"), _shown(score, ".2f")]
            if comparable[c]:
                paper = paper_miou(result) if result is not None else _paper_of(key, c)
                diff = None if paper is None or score is None else round(score - paper, 2)
                row[f"{label[c]}_paper_mIoU"], row[f"{label[c]}_ours_minus_paper"] = paper, diff
                line += [_shown(paper, ".1f"), _shown(diff, "+.2f")]
        rows.append(row)
        lines.append(line)
    header = ["setting", "encoder-decoder", "trained at"]
    for c in columns:
        size = next(r.flops_size for (_, col), r in cells.items() if col == c)
        header += [f"{label[c]} GFLOPs ({size})", f"{label[c]} mIoU (%)"]
        header += [f"{label[c]} paper", f"{label[c]} ours − paper"] if comparable[c] else []
    note = "* weights trained at other ratios than the standard ones (the paper's row *: at the aggressive ratios)."
    starred = any(k[2] != STANDARD for k in keys)
    return rows, markdown_table(header, lines) + (f"\n\n{note}" if starred else "")


def _shown(value: float | None, spec: str) -> str | None:
    return None if value is None else format(value, spec)


def _paper_of(key: RowKey, column: ColumnKey) -> float | None:
    """The paper's mIoU of a cell without a result: the row's preset on the column's model and benchmark (the row *:
    ``aggressive_trained``); ``None`` for weights trained at other ratios."""
    setting, _, trained = key
    if key == STAR:
        setting = "aggressive_trained"
    elif trained != STANDARD:
        return None
    return PAPER_MIOU.get((column[0], setting, column[1]))
