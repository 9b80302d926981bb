"""The ISR trade-off: accuracy against GFLOPs (and latency) for the pooling settings of one trained model.

Rows are :class:`~edaformer.results.ResultRow` objects (read from ``results.json`` of an ISR sweep's jobs or
``isr_results.json`` after training by :func:`~edaformer.results.read_result_rows`): their ``setting``, ``isr``,
``gflops`` (multiply-accumulates ×1e-9 at ``flops_size``), ``mIoU`` in [0, 1], and when known ``latency_ms``,
``model``, ``data`` (the DataModule target) and ``tta``. When the rows are one of the
paper's benchmarks (ADE20K or COCO-Stuff at 512×512, Cityscapes at 1024×2048) and the model is EDAFormer-T/B, the
paper's Table 4 is drawn beside them: its GFLOPs as dotted lines, its single-scale mIoU as open markers.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

from matplotlib.figure import Figure

from ..data.benchmarks import BENCHMARKS
from ..models import ISR_PRESETS, parse_isr
from ..paper import PAPER_GFLOPS, PAPER_MIOU
from ..results import ResultRow

PRESET_ORDER = ("train", "dec2x", "paper", "aggressive")
# DataModule class → benchmark whose published numbers apply (subclasses such as the demo data do not match).
BENCHMARK_OF_DATA = {
    "edaformer.data.ADE20KDataModule": "ade20k",
    "edaformer.data.datamodules.ADE20KDataModule": "ade20k",
    "edaformer.data.CityscapesDataModule": "cityscapes",
    "edaformer.data.datamodules.CityscapesDataModule": "cityscapes",
    "edaformer.data.COCOStuffDataModule": "coco_stuff",
    "edaformer.data.datamodules.COCOStuffDataModule": "coco_stuff",
}


def sort_rows(rows: Sequence[ResultRow]) -> list[ResultRow]:
    """Presets in the paper's order (train, dec2x, paper, aggressive), then other settings by GFLOPs, descending."""

    def key(row: ResultRow) -> tuple[int, float]:
        order = PRESET_ORDER.index(row.setting) if row.setting in PRESET_ORDER else len(PRESET_ORDER)
        return order, -row.gflops

    return sorted(rows, key=key)


def benchmark_of(row: ResultRow) -> str | None:
    """The benchmark (``ade20k`` / ``cityscapes`` / ``coco_stuff``) a row's data and FLOPs size correspond to."""
    dataset = BENCHMARK_OF_DATA.get(str(row.data or ""))
    if dataset is None:
        return None
    bench = BENCHMARKS[dataset]
    return dataset if row.flops_size in (None, "x".join(map(str, bench.eval_size))) else None


def paper_miou(row: ResultRow, setting: str | None = None) -> float | None:
    """The paper's mIoU (%) for a result row, or ``None`` when the paper has no comparable number.

    Comparable: the row's ``model`` and benchmark (:func:`benchmark_of`) are in Table 4, its ``setting`` is an ISR
    preset, and it was evaluated single-scale (``tta`` false), as the paper's table. The row's ``train_isr`` picks
    the paper's row: the standard training ratios (or none recorded) give the ISR rows; weights trained at the
    aggressive ratios and evaluated there give the row marked * (``"aggressive_trained"``); other ratios have no
    paper number. ``setting`` overrides the row's setting (``"aggressive_trained"``: the model the paper trained
    at the aggressive ratios).
    """
    dataset = benchmark_of(row)
    if dataset is None or row.tta:
        return None
    setting = setting or row.setting
    trained = parse_isr(row.train_isr) or ISR_PRESETS["train"]
    if trained == ISR_PRESETS["aggressive"] and setting == "aggressive":
        setting = "aggressive_trained"
    elif trained != ISR_PRESETS["train"]:
        return None
    return PAPER_MIOU.get((str(row.model or ""), setting, dataset))


def tradeoff_figure(
    rows: Sequence[ResultRow],
    reference: tuple[str, str] | None = None,
    title: str | None = None,
    metric: str = "mIoU",
    latency_label: str = "latency (ms / image)",
    *,
    front: Collection[str] | None = None,
    others: Sequence[ResultRow] = (),
    budget: float | None = None,
    best: str | None = None,
    cost: str = "gflops",
    base: str | None = None,
) -> Figure:
    """mIoU (%) against GFLOPs, and against latency when the rows have ``latency_ms``; one point per setting.

    Args:
        rows: result rows (see the module docstring).
        reference: ``(model_name, benchmark)``, e.g. ``("edaformer_t", "ade20k")``: dotted vertical lines at the
            paper's GFLOPs for each preset (Tables 1/4). Only meaningful when the rows' GFLOPs were counted at
            that benchmark's size and class count. The paper's single-scale mIoU of each row's setting is drawn as
            an open marker at the row's own x (GFLOPs / latency); rows evaluated with ``tta`` get none.
        title: figure title.
        metric: the accuracy key (values in [0, 1]).
        latency_label: x label of the latency panel (say the device and input size there).
        front: the ``isr`` of the rows on a Pareto front (an ISR search): the line then joins only those, by
            ``cost``, on the panel of ``cost`` (no line on the other panel), and only the presets and ``best`` are
            labelled.
        others: further rows drawn as small grey dots without labels (a search's other evaluated settings; their
            ``metric`` may be ``None``, then their ``extra["search_score"]`` is used).
        budget: a dashed vertical line at this cost on the panel of ``cost``.
        best: the ``isr`` of the row to mark with a star (the best setting under the budget).
        cost: the cost the front and the budget refer to: ``"gflops"`` or ``"latency_ms"``.
        base: the ``isr`` of the row the labels' changes refer to (a model's training setting), labelled too;
            ``None``: the ``train`` row, if any.
    """
    rows = sort_rows(rows)
    if not rows:
        raise ValueError("no rows to plot")
    has_latency = all(r.latency_ms is not None for r in rows)
    ncols = 2 if has_latency else 1
    fig = Figure(figsize=(5.2 * ncols, 4.0), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    accs = [_percent(r, metric) for r in rows]
    if base is None:
        base_row = rows[0] if rows[0].label == "train" else None
    else:
        base_row = next((r for r in rows if r.isr == base), None)
    xs_by_axis = [("gflops", "GFLOPs (multiply-accumulates, ×1e9)")]
    if has_latency:
        xs_by_axis.append(("latency_ms", latency_label))
    for ax, (key, xlabel) in zip(axes, xs_by_axis):
        xs = [float(getattr(r, key)) for r in rows]
        if front is None:
            ax.plot(xs, accs, "-", color="0.7", zorder=1)
        else:
            line = sorted((x, y) for r, x, y in zip(rows, xs, accs) if r.isr in front)
            if line and key == cost:
                ax.plot(*zip(*line), "-", color="0.55", zorder=1, label="Pareto front")
            _draw_others(ax, others, key, metric)
        ax.scatter(xs, accs, s=40, zorder=2, c=[f"C{i}" for i in range(len(rows))])
        for i, (r, x, y) in enumerate(zip(rows, xs, accs)):
            if best is not None and r.isr == best:
                ax.plot(x, y, "*", color="gold", markeredgecolor="k", markersize=14, zorder=3, label="best")
            if front is not None and not (r.setting in PRESET_ORDER or r.isr in (best, base)):
                continue
            text = r.label
            if base_row is not None and r is not base_row:
                dx = 100 * (x / float(getattr(base_row, key)) - 1)
                dy = y - _percent(base_row, metric)
                text += f"\n{dx:+.0f}% {'GFLOPs' if key == 'gflops' else 'time'}, {dy:+.2f} {metric}"
            offset = (6, 8) if i % 2 == 0 else (6, -26)  # alternate above/below: neighbours rarely collide
            ax.annotate(text, (x, y), textcoords="offset points", xytext=offset, fontsize=8)
        paper_points = _paper_points(rows, xs, reference)
        _draw_paper_miou(ax, paper_points)
        if budget is not None and key == cost:
            ax.axvline(budget, color="C3", linestyle="--", linewidth=1, label=f"budget {budget:.3g}")
        if front is not None and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
        # others widen the cost range (not the accuracy range: far-off settings would squash the front)
        span = xs + [float(getattr(r, key)) for r in others if getattr(r, key) is not None]
        span += [budget] if budget is not None and key == cost else []
        xmin, xmax = min(span), max(span)
        pad = 0.15 * (xmax - xmin or xmax or 1.0)
        ax.set_xlim(xmin - pad, xmax + 2.5 * pad)
        finite = [a for a in accs if not math.isnan(a)] + [y for _, y, _ in paper_points]
        if finite:
            lo, hi = min(finite), max(finite)
            ypad = max(0.5, 0.25 * (hi - lo))
            ax.set_ylim(lo - ypad, hi + 2 * ypad)
    if reference is not None:
        model_name, dataset = reference
        ax = axes[0]
        for i, preset in enumerate(PRESET_ORDER):
            value = PAPER_GFLOPS.get((model_name, preset, dataset))
            if value is None:
                continue
            ax.axvline(value, color="0.35", linestyle=":", linewidth=1)
            ax.text(
                value,
                0.02 + 0.06 * i,
                f" paper {preset}\n {value:g}",
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                color="0.3",
            )
        lo, hi = ax.get_xlim()
        vals = [v for (m, _, d), v in PAPER_GFLOPS.items() if m == model_name and d == dataset]
        if vals:
            ax.set_xlim(min(lo, min(vals) * 0.97), max(hi, max(vals) * 1.03))
    size = rows[0].flops_size
    fig.suptitle(title or f"ISR trade-off (same weights; GFLOPs at {size or 'the eval size'})", fontsize=10)
    return fig


def _percent(row: ResultRow, metric: str) -> float:
    value = getattr(row, metric, None)
    return math.nan if value is None else 100 * float(value)


def _paper_points(
    rows: Sequence[ResultRow], xs: Sequence[float], reference: tuple[str, str] | None
) -> list[tuple[float, float, str]]:
    """``(x, paper mIoU %, setting)`` for the single-scale rows whose setting Table 4 has for ``reference``; the
    paper's model trained at the aggressive ratios is added at the ``aggressive`` row's x."""
    if reference is None:
        return []
    model_name, dataset = reference
    points = []
    for row, x in zip(rows, xs):
        if row.tta:
            continue
        settings = [row.setting]
        if settings[0] == "aggressive":
            settings.append("aggressive_trained")
        for setting in settings:
            value = PAPER_MIOU.get((model_name, setting, dataset))
            if value is not None:
                points.append((x, value, setting))
    return points


def _draw_paper_miou(ax: Any, points: Sequence[tuple[float, float, str]]) -> None:
    """Open circles at the paper's mIoU of each setting; an open star for its aggressive-trained model."""
    isr = [(x, y) for x, y, s in points if s != "aggressive_trained"]
    if isr:
        ax.plot(*zip(*isr), "o--", mfc="none", color="0.25", linewidth=0.8, zorder=1, label="paper (Table 4)")
    for x, y, s in points:
        if s == "aggressive_trained":
            ax.plot(x, y, "*", mfc="none", color="0.25", markersize=10, label="paper, trained at aggressive")
    if points:
        ax.legend(fontsize=7, loc="upper right")


def _draw_others(ax: Any, others: Sequence[ResultRow], key: str, metric: str) -> None:
    """Small grey dots: settings evaluated but off the front (their search score when not re-scored)."""
    points = [
        (float(getattr(r, key)), _percent(r, metric) if getattr(r, metric) is not None else
         100 * float(r.extra["search_score"]))
        for r in others
        if getattr(r, key) is not None
    ]  # fmt: skip
    if points:
        ax.scatter(*zip(*points), s=10, color="0.65", zorder=0, label="other settings (search score)")
