"""The one Markdown table renderer: every table the project prints or writes (results, ISR tables, benchmarks,
search reports, model cards, per-class IoU) goes through :func:`markdown_table`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["markdown_table"]

Align = Literal["left", "right", "center"]
_RULE = {"left": "---", "right": "---:", "center": ":---:"}


def markdown_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    align: Sequence[Align] | None = None,
    pad: bool = False,
) -> str:
    """A GitHub-flavoured Markdown table: ``header`` cells, then one line per row (cells rendered with ``str``;
    ``None`` as an em dash). ``align`` gives each column's alignment (default left); ``pad=True`` pads every
    column to its widest cell, for tables read in a terminal. A row of another length is a ``ValueError``."""
    width = len(header)
    align = list(align) if align is not None else ["left"] * width
    if len(align) != width:
        raise ValueError(f"{len(align)} alignments for {width} columns")
    cells = [[_cell(c) for c in header]]
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells, the header {width}")
        cells.append([_cell(c) for c in row])
    sizes = [max(len(r[k]) for r in cells) if pad else 0 for k in range(width)]
    rule = [_RULE[a] if not pad else _padded_rule(a, max(sizes[k], 3)) for k, a in enumerate(align)]

    def line(row: Sequence[str]) -> str:
        if pad:
            row = [c.rjust(sizes[k]) if align[k] == "right" else c.ljust(sizes[k]) for k, c in enumerate(row)]
        return "| " + " | ".join(row) + " |"

    return "\n".join(
        [line(cells[0]), "|" + "|".join(f" {r} " if pad else r for r in rule) + "|"]
        + [line(r) for r in cells[1:]]
    )


def _cell(value: Any) -> str:
    return "—" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _padded_rule(align: Align, size: int) -> str:
    if align == "right":
        return "-" * (size - 1) + ":"
    if align == "center":
        return ":" + "-" * (size - 2) + ":"
    return "-" * size
