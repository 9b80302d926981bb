"""ISR search: the accuracy–cost Pareto front of a trained model's inference spatial reduction settings, and the
best setting under a FLOPs or latency budget (``edaformer-isr-search``).

:mod:`~edaformer.search.space` (candidate ratios per position), :mod:`~edaformer.search.front` (budget, Pareto
front, best under a budget), :mod:`~edaformer.search.study` (the stored Optuna study: the only module that imports
Optuna), :mod:`~edaformer.search.isr_search` (the search itself), :mod:`~edaformer.search.report` (tables, the
preset file). Depends on models, core and evaluation; no Lightning, no Hydra.
"""

from .front import BUDGET_KINDS, Budget, beating, best_under, dominates, pareto_front
from .isr_search import STUDY_FILE, BudgetError, Scorer, SearchOptions, SearchResult, search_isr
from .space import DECODER_POSITIONS, DEFAULT_MULTIPLIERS, ENCODER_POSITIONS, SearchSpace
from .study import StudyFileError, StudyMismatchError, check_study_file

__all__ = [
    "BUDGET_KINDS",
    "DECODER_POSITIONS",
    "DEFAULT_MULTIPLIERS",
    "ENCODER_POSITIONS",
    "STUDY_FILE",
    "Budget",
    "BudgetError",
    "Scorer",
    "SearchOptions",
    "SearchResult",
    "SearchSpace",
    "StudyFileError",
    "StudyMismatchError",
    "beating",
    "best_under",
    "check_study_file",
    "dominates",
    "pareto_front",
    "search_isr",
]
