"""The Optuna side of the ISR search: a stored multi-objective study (maximise accuracy, minimise cost).

Only this module imports Optuna. The study lives in SQLite (``study.db`` in the run dir), so an interrupted search
resumes with every trial it finished. Trials carry their setting and measurements in ``user_attrs`` (``isr``,
``gflops``, ``latency_ms``, ``score``, ``images``, ``seconds``); the settings already evaluated are read back from
them, so a resumed search never evaluates a setting twice.

Budget: each trial's cost is known before its accuracy (GFLOPs from shapes, or one latency measurement); the
constraint ``cost − limit`` is recorded and a trial over the limit is pruned before any image is scored. The TPE
sampler ranks such trials by how far they overshoot (Optuna's constrained TPE), so it learns where the limit is.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError
from ..models import ISRSetting

try:
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState
except ModuleNotFoundError as err:  # optuna comes with the search extra
    if err.name != "optuna":
        raise
    raise MissingExtraError("optuna", "search") from None  # the one line says it all
from .eta import Eta
from .space import SearchSpace

DIRECTIONS = ("maximize", "minimize")  # accuracy, cost
CONSTRAINT = "budget"
REFERENCES = "references"  # study attribute: evaluated presets outside the search space

# measure(setting) -> the trial's user attributes: cost keys, and "score" unless the setting is over the budget.
Measure = Callable[[ISRSetting, bool], dict[str, Any]]


class StudyMismatchError(ValueError):
    """A stored study was made for another model, data, space or budget than the one asked for now."""


class StudyFileError(ValueError):
    """A ``study.db`` that SQLite cannot read (truncated, overwritten, not a database); one line, exit status 2."""

    exit_status = 2


def check_study_file(path: Path) -> None:
    """An existing ``path`` must be an intact SQLite database (``PRAGMA quick_check``), read-only; else
    :class:`StudyFileError` naming it."""
    if not Path(path).exists():
        return
    try:
        with closing(sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)) as db:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as err:
        verdict = str(err)
    if verdict != "ok":
        raise StudyFileError(
            f"{path}: the stored search cannot be read ({verdict}); move it away to start a new search there"
        )


def open_study(path: Path, name: str, seed: int, fingerprint: Mapping[str, Any]) -> optuna.Study:
    """Create the study in ``path`` (SQLite) or load the one there, checking it was made with ``fingerprint``
    (a file SQLite cannot read: :class:`StudyFileError`).

    The sampler is TPE (multivariate, constraint-aware); :func:`optimize` seeds it anew for every trial.
    """
    check_study_file(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{Path(path).resolve()}"
    study = optuna.create_study(
        storage=storage, study_name=name, directions=list(DIRECTIONS), load_if_exists=True
    )
    stored = study.user_attrs.get("fingerprint")
    wanted = _plain(fingerprint)
    if stored is None:
        study.set_user_attr("fingerprint", wanted)
    elif stored != wanted:
        differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        details = "; ".join(f"{k}: stored {stored.get(k)!r}, now {wanted.get(k)!r}" for k in differ)
        raise StudyMismatchError(f"{path} holds a search with other settings ({details})")
    reseed(study, seed)
    return study


def reseed(study: optuna.Study, seed: int) -> None:
    """A TPE sampler seeded with ``seed`` plus the number of finished trials.

    Each proposal then depends only on the seed and the finished trials, not on the sampler's history in this
    process: a search interrupted and resumed proposes exactly what the uninterrupted search would have (the
    interrupted trial is marked failed and does not count).
    """
    finished = finished_trials(study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.sampler = optuna.samplers.TPESampler(seed=seed + finished, multivariate=True)


def evaluated_records(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """``isr`` → the user attributes of the first finished trial that scored that setting (and of the presets
    outside the search space, stored with the study)."""
    records: dict[str, dict[str, Any]] = dict(study.user_attrs.get(REFERENCES, {}))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        attrs = trial.user_attrs
        if "score" in attrs and attrs["isr"] not in records:
            records[attrs["isr"]] = dict(attrs)
    return records


def measured_costs(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """``isr`` → user attributes of every finished or pruned trial (costs are known for both)."""
    costs: dict[str, dict[str, Any]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        costs.setdefault(trial.user_attrs.get("isr", ""), dict(trial.user_attrs))
    costs.pop("", None)
    return costs


def save_preset(
    study: optuna.Study,
    space: SearchSpace,
    setting: ISRSetting,
    attrs: Mapping[str, Any],
    cost_key: str,
    limit: float,
) -> None:
    """Store an evaluated preset: as a finished trial when the space holds it (the sampler learns from it), else
    with the study as a reference point."""
    if setting not in space:
        references = dict(study.user_attrs.get(REFERENCES, {}))
        references[str(setting)] = _plain(attrs)
        study.set_user_attr(REFERENCES, references)
        return
    choices = space.positions
    study.add_trial(
        optuna.trial.create_trial(
            params=space.params(setting),
            distributions={p: CategoricalDistribution(c) for p, c in choices.items()},
            values=[float(attrs["score"]), float(attrs[cost_key])],
            user_attrs=dict(attrs),
            constraints={CONSTRAINT: float(attrs[cost_key]) - limit},
        )
    )


def optimize(
    study: optuna.Study,
    space: SearchSpace,
    measure: Measure,
    cost_key: str,
    limit: float,
    evaluations: int,
    max_trials: int,
    seed: int,
    log: Callable[[str], None] = print,
) -> None:
    """Run trials until ``evaluations`` distinct settings are scored (those stored count) or ``max_trials``
    trials exist in the study (the space may hold fewer settings under the budget than asked for).

    ``measure(setting, score)`` returns the trial's attributes: the cost keys, and with ``score=True`` also
    ``score`` (accuracy in [0, 1]); it caches by setting, so a repeated proposal costs nothing.
    """
    choices = space.positions
    scored = set(evaluated_records(study))
    eta = Eta(evaluations, done=len(scored))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        setting = space.setting({p: trial.suggest_categorical(p, c) for p, c in choices.items()})
        attrs = measure(setting, False)
        cost = float(attrs[cost_key])
        trial.set_constraint(CONSTRAINT, cost - limit)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        if cost > limit:
            log(f"  trial {trial.number:>3}: {setting}  {_costs(attrs)}  over the budget, not evaluated")
            raise optuna.TrialPruned(f"{cost_key} {cost:g} > {limit:g}")
        repeat = str(setting) in scored
        attrs = measure(setting, True)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        scored.add(str(setting))
        what = "repeat, cached" if repeat else eta.update(len(scored))
        log(
            f"  trial {trial.number:>3}: {setting}  {_costs(attrs)}  score {100 * attrs['score']:.2f}  ({what})"
        )
        return float(attrs["score"]), cost

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if len(scored) >= evaluations or finished_trials(study) >= max_trials:
            study.stop()
        reseed(study, seed)

    remaining = max_trials - finished_trials(study)
    if len(scored) >= evaluations or remaining <= 0:
        return
    reseed(study, seed)
    study.optimize(objective, n_trials=remaining, callbacks=[after_trial], gc_after_trial=False)
    if len(scored) < evaluations:
        log(
            f"stopped after {finished_trials(study)} trials (search.max_trials) with {len(scored)} settings "
            f"evaluated: the space holds few settings under the budget that were not tried"
        )


def finished_trials(study: optuna.Study) -> int:
    """Trials that finished, scored or pruned (not those that failed or were interrupted)."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _costs(attrs: Mapping[str, Any]) -> str:
    text = f"{attrs['gflops']:.3f} GFLOPs"
    if "latency_ms" in attrs:
        text += f", {attrs['latency_ms']:.2f} ms"
    return text


def _plain(value: Any) -> Any:
    """The value as the storage gives it back (JSON: tuples become lists)."""
    return json.loads(json.dumps(value))
