"""What an ISR search leaves behind: Markdown tables of the front and the presets, a summary, and the best setting as
an ``isr`` preset file that every command reads (``conf/isr/<name>.yaml`` on a ``hydra.searchpath`` folder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import ISR_OWN, parse_isr
from ..tables import markdown_table
from .isr_search import SearchResult


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _signed(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{0.0 if abs(value) < 0.005 else value:+.2f}{unit}"  # no "-0.00"


def rows_table(result: SearchResult, rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table: setting, ratios, GFLOPs, latency, accuracy and their changes against the training setting.

    ``*`` marks the best setting under the budget, ``(training)`` the model's training setting when it is a paper
    preset other than ``train`` (a model trained at other ratios; ``own`` when it is no preset); the search score column appears when the search scored a
    subset of the validation split.
    """
    metric, best = result.metric, (result.best or {}).get("isr")
    subset = result.search_images < result.total_images
    head = [
        "setting",
        "encoder s1-s4",
        "decoder d4,d3,d2",
        "GFLOPs",
        "Δ GFLOPs",
        "latency (ms)",
        "Δ latency",
        f"{metric} (%)",
        f"Δ {metric}",
        "within budget",
    ]
    if subset:
        head.insert(9, f"{metric} on {result.search_images} images")
    lines = []
    for row in rows:
        setting = parse_isr(row["isr"])
        trained = row["isr"] == result.reference["isr"] and row["preset"] not in ("train", ISR_OWN)
        marks = (row["preset"], "(training)" if trained else None, "*" if row["isr"] == best else None)
        label = " ".join(x for x in marks if x)
        cells = [
            label or None,
            ",".join(map(str, setting.encoder)),
            ",".join(map(str, setting.decoder)) if setting.decoder else "–",
            f"{row['gflops']:.3f}",
            _signed(row.get("d_gflops_pct"), " %"),
            f"{row['latency_ms']:.2f}" if row.get("latency_ms") is not None else "–",
            _signed(row.get("d_latency_pct"), " %"),
            _pct(row[metric]),
            _signed(row.get(f"d_{metric}")),
            "yes" if row.get("within_budget") else "no",
        ]
        if subset:
            cells.insert(9, _pct(row["search_score"]))
        lines.append(cells)
    return markdown_table(head, lines)


def paper_verdict(result: SearchResult) -> str:
    """Whether a setting beats the ``paper`` preset: fewer GFLOPs at an accuracy at least as high."""
    paper, metric = result.paper, result.metric
    if paper is None:
        return "The paper preset was not evaluated."
    base = f"paper preset {paper['isr']}: {paper['gflops']:.3f} GFLOPs, {metric} {_pct(paper[metric])} %"
    if not result.beats_paper:
        return (
            f"No evaluated setting beats the {base} (none has fewer GFLOPs at a {metric} at least as high, on the "
            f"full validation split)."
        )
    top = result.beats_paper[0]
    cheapest = min(result.beats_paper, key=lambda r: r["gflops"])
    text = (
        f"{len(result.beats_paper)} setting(s) beat the {base}. Most accurate: {top['isr']} at "
        f"{top['gflops']:.3f} GFLOPs ({100 * (top['gflops'] / paper['gflops'] - 1):+.1f} %), {metric} "
        f"{_pct(top[metric])} % ({100 * (top[metric] - paper[metric]):+.2f})."
    )
    if cheapest is not top:
        text += (
            f" Cheapest: {cheapest['isr']} at {cheapest['gflops']:.3f} GFLOPs "
            f"({100 * (cheapest['gflops'] / paper['gflops'] - 1):+.1f} %), {metric} {_pct(cheapest[metric])} %."
        )
    return text


def summary(result: SearchResult, header: str = "") -> str:
    """The whole report as Markdown: budget, front table, presets table, best setting, verdict on ``paper``."""
    best, metric = result.best, result.metric
    scored = (
        f"all {result.total_images} validation images"
        if result.search_images >= result.total_images
        else f"the first {result.search_images} of {result.total_images} validation images during the search, "
        f"the front and the presets re-scored on all of them"
    )
    parts = [
        header,
        f"Budget: {result.budget}. {len(result.evaluated)} settings evaluated in {result.trials} trials; {metric} "
        f"on {scored}. Δ: against the model's training setting {result.reference['isr']} (the ratios it was trained at).",
        "## Pareto front (accuracy against " + ("latency" if result.cost == "latency_ms" else "GFLOPs") + ")",
        rows_table(result, result.front),
        "## The paper's presets and the training setting",
        rows_table(result, result.presets),
        "## Best under the budget",
        (
            f"{best['isr']}: {best['gflops']:.3f} GFLOPs, {metric} {_pct(best[metric])} % "
            f"({_signed(best.get(f'd_{metric}'))} against training)"
            if best
            else f"No evaluated setting fits the budget ({result.budget})."
        ),
        "## Against the paper's ISR",
        paper_verdict(result),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def preset_yaml(setting_text: str, comment: str) -> str:
    """An ``isr`` config (``encoder`` / ``decoder`` ratios) with ``comment`` lines on top."""
    setting = parse_isr(setting_text)
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append(f"encoder: [{', '.join(map(str, setting.encoder))}]")
    decoder = f"[{', '.join(map(str, setting.decoder))}]" if setting.decoder else "null"
    lines.append(f"decoder: {decoder}")
    return "\n".join(lines) + "\n"
