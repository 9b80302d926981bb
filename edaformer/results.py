"""Result rows: one evaluation of one model under one ISR setting, and the result files that hold them.

Every evaluation (``edaformer-eval``, the final evaluation of ``edaformer-train``, the ISR search) produces
:class:`ResultRow` objects; the files (``results.json`` of an eval run or sweep job, ``isr_results.json`` after
training) hold ``{"results": [row.to_dict(), ...]}``, so their keys are the field names below. Readers (the ISR
table, the trade-off figure, the search report, the hub metadata) take rows, never dicts read by string key.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import write_csv, write_json
from .tables import markdown_table

__all__ = [
    "ERROR_FILE",
    "RESULT_FILES",
    "ResultRow",
    "failed_jobs",
    "find_result_files",
    "read_result_file",
    "read_result_rows",
    "summary_table",
    "write_result_files",
]

RESULT_FILES = ("results.json", "isr_results.json")  # of an eval run (or sweep job), of a training run
ERROR_FILE = "error.txt"  # in the folder of a sweep job that failed: its one-line error
# in-memory only: the confusion matrix (its own CSV/PNG files) and where a row was read from
_NOT_SERIALISED = ("confusion", "source", "extra")
# besides scalars: the per-class IoUs and their table, written to files of their own (not to the CSV)
_NOT_SCALAR = ("per_class", "table")


@dataclass(kw_only=True)
class ResultRow:
    """One evaluation: the model, the ISR setting and the weights' training ratios, cost and accuracy.

    ``setting`` is the preset name or the ratios (``"paper"``, ``"16,8,4,2-2,4,8"``), ``isr`` / ``train_isr`` the
    ratios ``"e1,e2,e3,e4-d4,d3,d2"`` evaluated and trained at, ``params`` a count, ``gflops`` multiply-accumulates
    x1e-9 at ``flops_size`` (``"HxW"``). Segmentation fills ``mIoU`` / ``mAcc`` / ``aAcc`` in [0, 1], ``tta``,
    ``per_class`` (class name -> IoU) and ``table`` (per-class Markdown); classification ``top1`` / ``top5`` in
    [0, 1]. ``ckpt`` is the weights' file and ``step`` the global step (optimizer steps) it was saved at, when the
    file records one. ``confusion`` is the ``[K, K]`` pixel-count matrix (rows = label), kept in memory only. Keys of a result
    file that are no field (``cityscapes_mIoU``, a search's ``search_score``, ...) are kept in ``extra``.
    """

    setting: str
    isr: str
    train_isr: str | None = None
    params: int | None = None
    gflops: float
    flops_size: str | None = None
    model: str | None = None
    mIoU: float | None = None
    mAcc: float | None = None
    aAcc: float | None = None
    tta: bool | None = None
    top1: float | None = None
    top5: float | None = None
    per_class: dict[str, float] | None = None
    table: str | None = None
    latency_ms: float | None = None
    data: str | None = None
    ckpt: str | None = None
    step: int | None = None
    checkpoint_kind: str | None = None
    compile: bool | None = None
    precision: str | None = None
    confusion: Any = field(default=None, repr=False, compare=False)
    source: str | None = field(default=None, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        """The accuracy this row reports: ``"mIoU"`` (segmentation) or ``"top1"`` (classification)."""
        return "mIoU" if self.mIoU is not None or self.top1 is None else "top1"

    @property
    def score(self) -> float | None:
        """The value of :attr:`metric`, in [0, 1]."""
        return getattr(self, self.metric)

    @property
    def flops_hw(self) -> tuple[int, int] | None:
        """``flops_size`` as ``(H, W)``."""
        if not self.flops_size:
            return None
        height, width = str(self.flops_size).split("x")
        return int(height), int(width)

    @property
    def checkpoint(self) -> str | None:
        """The weights this row describes, for tables: ``"last.ckpt (step 160000)"`` (``"step 6"``: weights that
        were not saved); ``None`` when unknown."""
        if not self.ckpt:
            return None if self.step is None else f"step {self.step}"
        return Path(self.ckpt).name + (f" (step {self.step})" if self.step is not None else "")

    @property
    def label(self) -> str:
        """The setting's name, for legends and file names."""
        return self.setting or self.isr

    def to_dict(self) -> dict[str, Any]:
        """The row as a result file holds it: every field that is set (the confusion matrix aside), then
        :attr:`extra`."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in _NOT_SERIALISED and getattr(self, f.name) is not None
        }
        return {**out, **self.extra}

    def scalars(self) -> dict[str, Any]:
        """:meth:`to_dict` without the per-class values (one CSV line)."""
        return {k: v for k, v in self.to_dict().items() if k not in _NOT_SCALAR}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str | None = None) -> ResultRow:
        """A row from a result file's dict (as :meth:`to_dict` writes it); unknown keys go to :attr:`extra`."""
        names = {f.name for f in dataclasses.fields(cls)} - set(_NOT_SERIALISED)
        known = {k: v for k, v in values.items() if k in names}
        extra = {k: v for k, v in values.items() if k not in names and k not in _NOT_SERIALISED}
        return cls(**known, extra=extra, source=source)


def summary_table(rows: Sequence[ResultRow]) -> str:
    """Markdown table of result rows: setting, ratios, training ratios, params, GFLOPs, metric in %, and the
    checkpoint (file and step) when a row names one."""
    metric = rows[0].metric
    header = ["ISR setting", "encoder-decoder ratios", "trained at", "params", f"GFLOPs ({rows[0].flops_size})",
              f"{metric} (%)"]  # fmt: skip
    cells = [
        [r.setting, r.isr, r.train_isr or "", _millions(r.params), f"{r.gflops:.2f}", _percent(r.score)]
        for r in rows
    ]
    if any(r.checkpoint for r in rows):
        header.append("checkpoint")
        for line, r in zip(cells, rows):
            line.append(r.checkpoint)
    return markdown_table(header, cells)


def _millions(count: int | None) -> str | None:
    return None if count is None else f"{count / 1e6:.2f} M"


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.2f}"


def write_result_files(rows: Sequence[ResultRow], out_dir: str | os.PathLike, stem: str) -> list[Path]:
    """``<stem>.json`` (every row with its per-class values), ``<stem>.csv`` (scalars) and ``<stem>.md`` (the
    summary table) in ``out_dir``, atomically; returns the three paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.csv", out / f"{stem}.md"]
    write_json(paths[0], {"results": [r.to_dict() for r in rows]})
    write_csv(paths[1], [r.scalars() for r in rows])
    paths[2].write_text(summary_table(rows) + "\n")
    return paths


def read_result_file(path: str | os.PathLike) -> list[ResultRow]:
    """The rows of one result file (``{"results": [...]}``); rows without ``isr`` and ``gflops`` are skipped."""
    payload = json.loads(Path(path).read_text())
    return [
        ResultRow.from_dict(row, source=str(path))
        for row in payload.get("results", [])
        if "isr" in row and "gflops" in row
    ]


def find_result_files(paths: Iterable[str | os.PathLike], names: Sequence[str] = RESULT_FILES) -> list[Path]:
    """Result files among ``paths``: files as given, folders searched recursively for ``names`` (sorted).
    A path that does not exist is a ``FileNotFoundError``."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(f for name in names for f in p.rglob(name)))
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files


def read_result_rows(
    paths: Iterable[str | os.PathLike], names: Sequence[str] = RESULT_FILES
) -> list[ResultRow]:
    """Rows of every result file among ``paths`` (:func:`find_result_files`); a model's setting evaluated twice
    keeps its last row. ``FileNotFoundError`` when no row is found."""
    paths = list(paths)
    rows: dict[tuple[str, str], ResultRow] = {}
    for f in find_result_files(paths, names):
        for row in read_result_file(f):
            rows[(row.model or "", row.isr)] = row
    if not rows:
        raise FileNotFoundError(
            f"no ISR result rows ({' / '.join(names)}) under {', '.join(map(str, paths))}"
        )
    return list(rows.values())


def failed_jobs(sweep_dir: str | os.PathLike) -> tuple[dict[str, str], int]:
    """The jobs of a sweep that failed, ``{job folder name: its one-line error}`` (folders with an
    :data:`ERROR_FILE`), and the number of jobs that ran (folders with Hydra's ``.hydra/``)."""
    jobs = sorted(p.parent for p in Path(sweep_dir).glob("*/.hydra"))
    failed = {
        job.name: (job / ERROR_FILE).read_text().strip() for job in jobs if (job / ERROR_FILE).is_file()
    }
    return failed, len(jobs)
