"""Search the ISR settings of one trained model for the accuracy–cost Pareto front and the best one under a budget.

The paper picks four settings by hand (Table 4); every EFA level's ratio is free at inference on the same weights,
so the search explores the whole product of candidates (:class:`~edaformer.search.space.SearchSpace`):

1. the paper's presets, and the model's own training setting (``model.train_isr``: the reference of the budget
   fraction and of every Δ) when it is none of them, are evaluated first and given to the sampler, so the search
   can only do at least as well;
2. an Optuna study (:mod:`edaformer.search.study`) proposes settings; each one's cost (GFLOPs from shapes, or a
   latency measurement) is known before its accuracy, and a setting over the budget is pruned unscored;
3. accuracy is mIoU (segmentors) or top-1 (classifiers) on the validation split, or on its first
   ``val_images`` images for speed; then the front and the presets are re-scored on the whole split, latency is
   measured for them in one interleaved run, and the front and the best setting under the budget are taken
   from those final numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from ..evaluation.inference import InferenceConfig
from ..evaluation.scoring import Progress, first_images, score_classifier, score_segmentor
from ..models import ISR_OWN, ISRSetting, isr_applied, parse_isr
from . import study as studies
from .cost import FlopsTable
from .front import Budget, beating, best_under, pareto_front
from .space import SearchSpace

STUDY_FILE = "study.db"
STUDY_NAME = "isr_search"

# latency(settings) -> {str(setting): median ms of one forward pass}, the settings timed interleaved.
LatencyFn = Callable[[Sequence[ISRSetting]], dict[str, float]]


class BudgetError(ValueError):
    """No setting of the search space fits the budget."""


@dataclass
class Scorer:
    """Accuracy of ``model`` under ISR settings on a validation loader (in [0, 1]); cached by setting.

    Args:
        model: the segmentor or classifier, on its device, in eval mode.
        loader: the validation loader (the DataModule's).
        num_classes: ``K``.
        task: ``"segmentation"`` (metric ``mIoU``) or ``"classification"`` (metric ``top1``).
        inference: the segmentation inference mode (whole / slide / TTA).
        val_images: score the search on the first ``val_images`` images only (``None``: all of them).
        progress: called with ``(done, total)`` images while a setting is scored.
    """

    model: nn.Module
    loader: DataLoader
    num_classes: int
    task: str = "segmentation"
    inference: InferenceConfig | None = None
    val_images: int | None = None
    progress: Callable[[int, int], None] | None = None
    _cache: dict[tuple[str, bool], float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.task not in ("segmentation", "classification"):
            raise ValueError(f"task must be 'segmentation' or 'classification', got {self.task!r}")
        self.subset = first_images(self.loader, self.val_images)

    @property
    def metric(self) -> str:
        return "mIoU" if self.task == "segmentation" else "top1"

    @property
    def total_images(self) -> int:
        return len(self.loader.dataset)

    def images(self, full: bool) -> int:
        """Images one score is computed on: the whole split, or the search's subset."""
        return len((self.loader if full else self.subset).dataset)

    @property
    def subset_is_full(self) -> bool:
        return self.images(False) == self.total_images

    def __call__(self, setting: ISRSetting, full: bool = False) -> float:
        full = full or self.subset_is_full
        key = (str(setting), full)
        if key not in self._cache:
            loader = self.loader if full else self.subset
            total, done = len(loader.dataset), 0

            def step(n: int) -> None:
                nonlocal done
                done += n
                if self.progress is not None:
                    self.progress(done, total)

            hook: Progress = step
            with isr_applied(self.model, setting):
                if self.task == "segmentation":
                    value = score_segmentor(
                        self.model, loader, self.num_classes, self.inference, progress=hook
                    ).miou
                else:
                    value = score_classifier(self.model, loader, self.num_classes, progress=hook)["top1"]
            self._cache[key] = float(value)
        return self._cache[key]


@dataclass(frozen=True)
class SearchOptions:
    """How much to search and against which budget.

    Args:
        budget: the cost limit (:class:`~edaformer.search.front.Budget`).
        trials: distinct settings to evaluate, the presets included.
        max_trials: trials in all, those the budget rules out and repeated proposals included (they cost no
            evaluation); ``None``: ``10 × trials``.
        seed: the sampler's seed.
        flops_size: ``(H, W)`` at which GFLOPs and latency are measured.
    """

    budget: Budget
    trials: int = 40
    max_trials: int | None = None
    seed: int = 0
    flops_size: tuple[int, int] = (512, 512)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"trials must be >= 1, got {self.trials}")
        if self.max_trials is not None and self.max_trials < self.trials:
            raise ValueError(f"max_trials ({self.max_trials}) must be >= trials ({self.trials})")

    @property
    def trial_limit(self) -> int:
        return self.max_trials if self.max_trials is not None else 10 * self.trials


@dataclass
class SearchResult:
    """What a search found. Rows are result rows (``setting``, ``isr``, ``gflops``, optional ``latency_ms``,
    the metric in [0, 1], ``search_score`` on the search's images, ``preset`` (a paper preset's name, or ``"own"``
    for the model's training setting when it is none of them), ``within_budget``, deltas against the training
    setting (:attr:`reference`, the model's ``train_isr``) ``d_<metric>`` (points of %) and ``d_gflops_pct`` /
    ``d_latency_pct``)."""

    metric: str
    cost: str
    limit: float
    budget: str
    search_images: int
    total_images: int
    trials: int
    evaluated: list[dict[str, Any]]
    final: list[dict[str, Any]]
    front: list[dict[str, Any]]
    best: dict[str, Any] | None
    reference: dict[str, Any]
    paper: dict[str, Any] | None
    beats_paper: list[dict[str, Any]]

    @property
    def presets(self) -> list[dict[str, Any]]:
        return [r for r in self.final if r.get("preset")]


def search_isr(
    model: nn.Module,
    scorer: Scorer,
    space: SearchSpace,
    options: SearchOptions,
    run_dir: str | Path,
    fingerprint: Mapping[str, Any],
    latency: LatencyFn | None = None,
    log: Callable[[str], None] = print,
) -> SearchResult:
    """Run (or resume) the search stored in ``run_dir/study.db``; see the module docstring.

    Args:
        model: the trained network (its ISR setting is restored afterwards); its ``train_isr``, the ratios it was
            trained at, is the training setting (budget fraction, Δ columns).
        scorer: accuracy of a setting (:class:`Scorer` over the validation split).
        space: candidate ratios per position.
        options: trials, seed, budget, FLOPs size.
        run_dir: where the study is stored (created if needed).
        fingerprint: what defines the search (checkpoint, data, space, budget...): a stored study made with
            another one is refused (:class:`~edaformer.search.study.StudyMismatchError`).
        latency: times settings (needed for a latency budget; without one no latency is reported).
        log: receives one line per trial and per phase.
    """
    budget = options.budget
    if budget.cost == "latency_ms" and latency is None:
        raise ValueError("a latency budget needs a latency function")
    cost_key, metric = budget.cost, scorer.metric
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    study = studies.open_study(run_dir / STUDY_FILE, STUDY_NAME, options.seed, fingerprint)
    costs = studies.measured_costs(study)
    records = studies.evaluated_records(study)
    training = space.restrict(model.train_isr)
    presets = space.presets()
    if training not in presets.values():
        presets = {ISR_OWN: training, **presets}
    preset_of = {str(s): name for name, s in presets.items()}
    flops = FlopsTable(model, space, (3, *options.flops_size))

    def measure(setting: ISRSetting, score: bool) -> dict[str, Any]:
        key = str(setting)
        if key not in costs:
            attrs: dict[str, Any] = {"isr": key, "gflops": flops(setting)}
            if cost_key == "latency_ms":
                attrs["latency_ms"] = round(latency([setting])[key], 4)  # type: ignore[misc]
            costs[key] = attrs
        if not score:
            return dict(costs[key])
        if key not in records:
            start = time.perf_counter()
            value = scorer(setting)
            records[key] = {
                **costs[key],
                "score": value,
                "images": scorer.images(False),
                "seconds": round(time.perf_counter() - start, 3),
            }
            if key in preset_of:
                records[key]["preset"] = preset_of[key]
        return dict(records[key])

    limit = budget.limit(float(measure(training, False)["gflops"]))
    cheapest = space.setting({p: max(c) for p, c in space.positions.items()})  # every ratio at its largest
    lowest = float(measure(cheapest, False)[cost_key])
    if lowest > limit:
        raise BudgetError(
            f"no setting of the search space fits the budget ({budget.describe(costs[str(training)]['gflops'])}): "
            f"the cheapest, {cheapest}, costs {lowest:.4g} {_unit(cost_key)}"
        )
    log(
        f"ISR search: {space.size} settings, budget {budget.describe(float(costs[str(training)]['gflops']))}; "
        f"{metric} on {scorer.images(False)} of {scorer.total_images} validation images; {len(records)} "
        f"setting(s) already evaluated in {run_dir / STUDY_FILE}"
    )
    log(f"the paper's presets and the training setting {training}:")
    for name, setting in presets.items():
        known = str(setting) in records
        attrs = measure(setting, True)
        if not known:
            studies.save_preset(study, space, setting, attrs, cost_key, limit)
        note = "" if setting in space else "  (outside the search space: reference only)"
        note = ("  (training)" if setting == training else "") + note
        log(
            f"  {name:>10}: {setting}  {attrs[cost_key]:.3f} {_unit(cost_key)}  score {100 * attrs['score']:.2f}{note}"
        )
    log(f"searching ({options.trials} settings to evaluate, at most {options.trial_limit} trials):")
    studies.optimize(
        study, space, measure, cost_key, limit, options.trials, options.trial_limit, options.seed, log
    )

    evaluated = [_row(attrs, metric) for attrs in records.values()]
    candidates = {r["isr"] for r in pareto_front(evaluated, "search_score", cost_key)} | set(preset_of)
    final = [dict(r) for r in evaluated if r["isr"] in candidates]
    if not scorer.subset_is_full:
        log(
            f"re-scoring the {len(final)} settings of the front and the presets on all {scorer.total_images} images:"
        )
    for row in final:
        row[metric] = scorer(parse_isr(row["isr"]), full=True)
        if not scorer.subset_is_full:
            log(f"  {row['isr']}: {100 * row['search_score']:.2f} -> {100 * row[metric]:.2f}")
    if latency is not None:
        log(f"timing the {len(final)} settings, interleaved:")
        times = latency([parse_isr(r["isr"]) for r in final])
        for row in final:
            if "latency_ms" in row:
                row["search_latency_ms"] = row["latency_ms"]
            row["latency_ms"] = round(times[row["isr"]], 4)
    for row in evaluated:
        row.setdefault(metric, None)
    reference = next(r for r in final if r["isr"] == str(training))
    for row in final:
        row["within_budget"] = row[cost_key] <= limit
        row[f"d_{metric}"] = round(100 * (row[metric] - reference[metric]), 4)
        for key in ("gflops", "latency_ms"):
            if key in row and key in reference:
                row[f"d_{key.split('_')[0]}_pct"] = round(100 * (row[key] / reference[key] - 1), 2)
    front = pareto_front(final, metric, cost_key)
    on_front = {r["isr"] for r in front}
    for row in final:
        row["on_front"] = row["isr"] in on_front
    paper = next((r for r in final if r.get("preset") == "paper"), None)
    return SearchResult(
        metric=metric,
        cost=cost_key,
        limit=limit,
        budget=budget.describe(reference["gflops"]),
        search_images=scorer.images(False),
        total_images=scorer.total_images,
        trials=studies.finished_trials(study),
        evaluated=sorted(evaluated, key=lambda r: (r[cost_key], r["isr"])),
        final=sorted(final, key=lambda r: (r[cost_key], r["isr"])),
        front=[next(r for r in final if r["isr"] == f["isr"]) for f in front],
        best=best_under(final, metric, cost_key, limit),
        reference=reference,
        paper=paper,
        beats_paper=beating(final, paper, metric, "gflops") if paper else [],
    )


def _row(attrs: Mapping[str, Any], metric: str) -> dict[str, Any]:
    row = {
        "setting": attrs.get("preset") or attrs["isr"],
        "isr": attrs["isr"],
        "gflops": float(attrs["gflops"]),
        "search_score": float(attrs["score"]),
        "images": int(attrs["images"]),
        "preset": attrs.get("preset"),
    }
    if "latency_ms" in attrs:
        row["latency_ms"] = float(attrs["latency_ms"])
    return row


def _unit(cost_key: str) -> str:
    return "ms" if cost_key == "latency_ms" else "GFLOPs"
