"""Accuracy–cost trade-off of evaluated settings: the budget, the Pareto front and the best setting under a budget.

Rows are result rows as ``edaformer-eval`` writes them (``isr``, ``gflops``, optionally ``latency_ms``, and the
accuracy ``mIoU`` or ``top1`` in [0, 1]); ``metric`` names the accuracy key, ``cost`` the cost key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

BudgetKind = Literal["gflops", "latency_ms", "fraction"]
BUDGET_KINDS: tuple[str, ...] = ("gflops", "latency_ms", "fraction")
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Budget:
    """What a setting may cost.

    ``gflops``: multiply-accumulates ×1e-9 at the search's input size; ``latency_ms``: median milliseconds of one
    forward pass (batch 1) measured on this machine; ``fraction``: that share of the training setting's GFLOPs.
    """

    kind: BudgetKind
    value: float

    def __post_init__(self) -> None:
        if self.kind not in BUDGET_KINDS:
            raise ValueError(f"budget kind must be one of {', '.join(BUDGET_KINDS)}, got {self.kind!r}")
        if not float(self.value) > 0:
            raise ValueError(f"budget.{self.kind} must be > 0, got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))

    @classmethod
    def from_options(cls, **values: float | None) -> Budget:
        """The one budget among ``gflops=``, ``latency_ms=``, ``fraction=`` that is not ``None``."""
        unknown = set(values) - set(BUDGET_KINDS)
        if unknown:
            raise ValueError(f"unknown budget {sorted(unknown)}; expected {', '.join(BUDGET_KINDS)}")
        given = {k: v for k, v in values.items() if v is not None}
        if len(given) != 1:
            choices = ", ".join(f"budget.{k}=..." for k in BUDGET_KINDS)
            found = f" (got {', '.join(f'budget.{k}={v}' for k, v in given.items())})" if given else ""
            raise ValueError(f"give exactly one of {choices}{found}")
        ((kind, value),) = given.items()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"budget.{kind}={value!r}: expected a number > 0")
        return cls(kind, value)  # type: ignore[arg-type]

    @property
    def cost(self) -> str:
        """The row key the budget limits: ``latency_ms`` or ``gflops``."""
        return "latency_ms" if self.kind == "latency_ms" else "gflops"

    def limit(self, training_cost: float) -> float:
        """The budget in units of :attr:`cost`; ``training_cost`` is the training setting's (for ``fraction``)."""
        return self.value * training_cost if self.kind == "fraction" else self.value

    def describe(self, training_cost: float) -> str:
        """E.g. ``4.5 GFLOPs``, ``12 ms``, ``80 % of the training setting's 5.60 GFLOPs = 4.48 GFLOPs``."""
        if self.kind == "latency_ms":
            return f"{self.value:g} ms"
        if self.kind == "gflops":
            return f"{self.value:g} GFLOPs"
        return (
            f"{100 * self.value:g} % of the training setting's {training_cost:.3f} GFLOPs "
            f"= {self.limit(training_cost):.3f} GFLOPs"
        )


def dominates(a: Row, b: Row, metric: str, cost: str) -> bool:
    """``a`` is at least as accurate and at most as costly as ``b``, and strictly better in one of them."""
    no_worse = a[metric] >= b[metric] and a[cost] <= b[cost]
    return no_worse and (a[metric] > b[metric] or a[cost] < b[cost])


def pareto_front(rows: Sequence[Row], metric: str, cost: str) -> list[dict[str, Any]]:
    """The rows no other row dominates, by cost ascending (ties: higher accuracy first, then ``isr``)."""
    front = [dict(r) for r in rows if not any(dominates(o, r, metric, cost) for o in rows)]
    return sorted(front, key=lambda r: (r[cost], -r[metric], str(r["isr"])))


def best_under(rows: Sequence[Row], metric: str, cost: str, limit: float) -> dict[str, Any] | None:
    """The most accurate row costing at most ``limit`` (ties: the cheaper, then ``isr``); ``None`` if none fits."""
    fitting = [r for r in rows if r[cost] <= limit]
    if not fitting:
        return None
    return dict(min(fitting, key=lambda r: (-r[metric], r[cost], str(r["isr"]))))


def beating(rows: Sequence[Row], reference: Row, metric: str, cost: str) -> list[dict[str, Any]]:
    """Rows cheaper than ``reference`` at an accuracy at least as high, most accurate first."""
    better = [dict(r) for r in rows if r[cost] < reference[cost] and r[metric] >= reference[metric]]
    return sorted(better, key=lambda r: (-r[metric], r[cost], str(r["isr"])))
