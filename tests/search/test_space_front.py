"""The search space, the budget, the Pareto front and the best setting under a budget, on hand-made rows."""

from __future__ import annotations

import pytest
import torch

from edaformer.flops import count_flops
from edaformer.models import ISR_PRESETS, ISRSetting, create_model, isr_applied
from edaformer.search import Budget, SearchSpace, beating, best_under, dominates, pareto_front
from edaformer.search.cost import FlopsTable


def test_default_space_is_the_training_ratios_times_1_2_4_8():
    space = SearchSpace.around_training()
    assert space.positions == {
        "s1": (8, 16, 32, 64),
        "s2": (4, 8, 16, 32),
        "s3": (2, 4, 8, 16),
        "s4": (1, 2, 4, 8),
        "d4": (1, 2, 4, 8),
        "d3": (2, 4, 8, 16),
        "d2": (4, 8, 16, 32),
    }
    assert space.size == 4**7
    # the paper's four presets all lie in it
    assert all(preset in space for preset in ISR_PRESETS.values())
    assert set(space.presets()) == {"train", "dec2x", "paper", "aggressive"}
    setting = space.setting({"s1": 16, "s2": 8, "s3": 4, "s4": 1, "d4": 2, "d3": 4, "d2": 8})
    assert setting == ISRSetting((16, 8, 4, 1), (2, 4, 8))
    assert space.setting(space.params(setting)) == setting
    assert ISRSetting((16, 8, 4, 3), (2, 4, 8)) not in space  # 3 is no candidate of s4


def test_space_of_a_model_trained_at_other_ratios_is_around_its_own():
    """A model trained at the aggressive ratios (its train_isr) is searched around them, not the "train" preset."""
    space = SearchSpace.around_training(ISR_PRESETS["aggressive"], multipliers=[1, 2])
    assert space.positions == {
        "s1": (16, 32),
        "s2": (8, 16),
        "s3": (4, 8),
        "s4": (2, 4),
        "d4": (2, 4),
        "d3": (4, 8),
        "d2": (8, 16),
    }
    assert ISR_PRESETS["aggressive"] in space and ISR_PRESETS["train"] not in space
    assert SearchSpace.around_training(ISRSetting((8, 4, 2, 1), None)).decoder is None  # a classifier's
    with pytest.raises(ValueError, match="without a decoder"):
        SearchSpace.around_training(ISRSetting((8, 4, 2, 1), None), decoder_candidates=[[1], [2], [4]])


def test_classifier_space_is_encoder_only_and_merges_presets():
    space = SearchSpace.around_training(ISRSetting((8, 4, 2, 1), None), multipliers=[1, 2])
    assert list(space.positions) == ["s1", "s2", "s3", "s4"] and space.size == 16
    presets = space.presets()
    # train and dec2x share their encoder: one preset for a classifier
    assert presets == {
        "train": ISRSetting((8, 4, 2, 1), None),
        "paper": ISRSetting((16, 8, 2, 1), None),
        "aggressive": ISRSetting((16, 8, 4, 2), None),
    }
    assert space.setting({"s1": 16, "s2": 8, "s3": 2, "s4": 1}) == ISRSetting((16, 8, 2, 1), None)


def test_explicit_candidates_replace_the_multipliers():
    space = SearchSpace.around_training(encoder_candidates=[[8], [4, 8], [2], [1, 2, 2]])
    assert space.positions["s2"] == (4, 8) and space.positions["s4"] == (1, 2)
    assert space.positions["d2"] == (4, 8, 16, 32)
    assert space.size == 2 * 2 * 4**3
    assert ISR_PRESETS["paper"] not in space  # s1 = 16 is not a candidate
    with pytest.raises(ValueError, match="expected 4 candidate lists"):
        SearchSpace.around_training(encoder_candidates=[[8], [4]])
    with pytest.raises(ValueError, match="s3 ISR ratio #1 must be a positive integer"):
        SearchSpace.around_training(encoder_candidates=[[8], [4], [0], [1]])


def test_budget_takes_exactly_one_value():
    assert Budget.from_options(gflops=4.5, latency_ms=None, fraction=None) == Budget("gflops", 4.5)
    fraction = Budget.from_options(fraction=0.8)
    assert fraction.cost == "gflops" and fraction.limit(5.0) == pytest.approx(4.0)
    assert fraction.describe(5.0) == "80 % of the training setting's 5.000 GFLOPs = 4.000 GFLOPs"
    assert Budget.from_options(latency_ms=20).cost == "latency_ms"
    with pytest.raises(
        ValueError, match=r"give exactly one of budget.gflops=..., budget.latency_ms=..., budget"
    ):
        Budget.from_options(gflops=None, latency_ms=None, fraction=None)
    with pytest.raises(ValueError, match=r"\(got budget.gflops=4, budget.fraction=0.5\)"):
        Budget.from_options(gflops=4, fraction=0.5)
    with pytest.raises(ValueError, match="must be > 0"):
        Budget.from_options(fraction=-1)
    with pytest.raises(ValueError, match="expected a number"):
        Budget.from_options(gflops="cheap")


ROWS = [
    {"isr": "a", "gflops": 5.0, "mIoU": 0.42},  # the most accurate
    {"isr": "b", "gflops": 4.0, "mIoU": 0.41},
    {"isr": "c", "gflops": 4.5, "mIoU": 0.40},  # dominated by b
    {"isr": "d", "gflops": 3.0, "mIoU": 0.35},
    {"isr": "e", "gflops": 3.0, "mIoU": 0.30},  # dominated by d (same cost, less accurate)
    {"isr": "f", "gflops": 6.0, "mIoU": 0.42},  # dominated by a (same accuracy, costlier)
]


def test_pareto_front_and_best_under_a_budget():
    assert dominates(ROWS[1], ROWS[2], "mIoU", "gflops") and not dominates(ROWS[0], ROWS[1], "mIoU", "gflops")
    front = pareto_front(ROWS, "mIoU", "gflops")
    assert [r["isr"] for r in front] == ["d", "b", "a"]  # by cost
    assert best_under(ROWS, "mIoU", "gflops", 4.6)["isr"] == "b"
    assert best_under(ROWS, "mIoU", "gflops", 100)["isr"] == "a"  # a and f tie on mIoU: the cheaper
    assert best_under(ROWS, "mIoU", "gflops", 2.9) is None
    # what beats c (4.5 GFLOPs, 40 %): cheaper at >= 40 %
    assert [r["isr"] for r in beating(ROWS, ROWS[2], "mIoU", "gflops")] == ["b"]
    assert beating(ROWS, ROWS[3], "mIoU", "gflops") == []


def test_flops_table_equals_counting_each_setting():
    """GFLOPs from one count per (position, ratio) equal a count of the whole setting, for any setting."""
    torch.manual_seed(0)
    model = create_model("edaformer_t", num_classes=4)
    space = SearchSpace(encoder=((8, 16), (4,), (2, 4), (1,)), decoder=((1,), (2, 4), (4,)))
    table = FlopsTable(model, space, (3, 64, 96))
    for setting in [ISRSetting((16, 4, 4, 1), (1, 4, 4)), ISRSetting((8, 4, 2, 1), (4, 4, 4))]:  # in, outside
        with isr_applied(model, setting):
            assert table(setting) == pytest.approx(count_flops(model, (3, 64, 96)), rel=1e-12)
    assert table.counts == 1 + 3 + 1  # the reference, one per (position, other ratio), one outside the space
    assert table(ISRSetting((8, 4, 4, 1), (1, 2, 4))) > table(ISRSetting((16, 4, 4, 1), (1, 4, 4)))
    assert table.counts == 5  # every setting of the space is known now
    assert str(model.isr) == "8,4,2,1-1,2,4"
