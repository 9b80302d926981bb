"""The ISR search on tiny random models: seeded and deterministic, pruned by the budget before scoring, resumable
without scoring a setting twice, for segmentors and classifiers, with a GFLOPs or a latency budget."""

from __future__ import annotations

import optuna
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from edaformer.evaluation import InferenceConfig, metrics_from_confusion
from edaformer.evaluation.scoring import score_segmentor
from edaformer.flops import count_flops
from edaformer.models import ISRSetting, create_model, isr_applied, parse_isr
from edaformer.search import (
    STUDY_FILE,
    Budget,
    BudgetError,
    Scorer,
    SearchOptions,
    SearchSpace,
    StudyMismatchError,
    pareto_front,
    search_isr,
)

SIZE = (64, 64)
BUDGET = Budget("fraction", 0.975)  # at 64x64: the aggressive preset fits, the paper's does not


class RandomBatches(Dataset):
    """Seeded random images with masks (``task="segmentation"``) or labels, as the DataModules' val batches."""

    def __init__(self, count: int, num_classes: int, segmentation: bool = True):
        gen = torch.Generator().manual_seed(1)
        self.images = torch.randn(count, 3, *SIZE, generator=gen)
        shape = (count, *SIZE) if segmentation else (count,)
        self.targets = torch.randint(0, num_classes, shape, generator=gen)
        self.key = "mask" if segmentation else "label"

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[i], self.key: self.targets[i]}


def segmentor(train_isr=None) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("edaformer_t", num_classes=4, train_isr=train_isr).eval()


def run(tmp, budget=BUDGET, trials=6, seed=0, images=None, space=None, train_isr=None, **kwargs):
    """A search on 4 images (the first 2 during the search); ``images`` counts the images scored; the model is
    built at ``train_isr`` (``None``: the standard ratios) and the space is its training ratios × 1, 2."""
    model = segmentor(train_isr)
    progress = (lambda done, total: images.append(1)) if images is not None else None
    scorer = Scorer(model, DataLoader(RandomBatches(4, 4)), 4, val_images=2, progress=progress)
    space = space or SearchSpace.around_training(model.train_isr, multipliers=[1, 2])
    options = SearchOptions(budget, trials=trials, seed=seed, flops_size=SIZE)
    fingerprint = {"test": "tiny", "budget": [budget.kind, budget.value]}
    return search_isr(model, scorer, space, options, tmp, fingerprint, log=lambda line: None, **kwargs)


def summary(result) -> list[tuple[str, float, float]]:
    return [(r["isr"], r["gflops"], r["search_score"]) for r in result.evaluated]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A search of 6 settings (the first 2 images) in a fresh run dir: ``(run dir, result)``."""
    path = tmp_path_factory.mktemp("search")
    return path, run(path)


@pytest.mark.slow
def test_seeded_search_is_deterministic_pruned_and_resumable(searched, tmp_path):
    path, first = searched
    assert len(first.evaluated) == 6  # the 4 presets and 2 settings the sampler proposed
    assert {r["setting"] for r in first.evaluated} >= {"train", "dec2x", "paper", "aggressive"}

    # budget: 97.5 % of the training setting's GFLOPs; only the presets may be scored above it
    train_gflops = next(r["gflops"] for r in first.evaluated if r["setting"] == "train")
    assert first.limit == pytest.approx(0.975 * train_gflops)
    assert all(r["gflops"] <= first.limit for r in first.evaluated if not r["preset"])
    study = optuna.load_study(study_name="isr_search", storage=f"sqlite:///{path / STUDY_FILE}")
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the sampler proposed no setting over the budget"
    for trial in pruned:  # pruned before scoring, its overshoot recorded as the constraint
        assert "score" not in trial.user_attrs
        assert trial.user_attrs["gflops"] > first.limit
        assert trial.constraints["budget"] == pytest.approx(trial.user_attrs["gflops"] - first.limit)

    # the final numbers: front and presets re-scored on all 4 images, the front non-dominated, the best fits
    final = {r["isr"]: r for r in first.final}
    assert set(final) == {r["isr"] for r in pareto_front(first.evaluated, "search_score", "gflops")} | {
        r["isr"] for r in first.evaluated if r["preset"]
    }
    assert [r["isr"] for r in first.front] == [r["isr"] for r in pareto_front(first.final, "mIoU", "gflops")]
    assert first.best is not None and first.best["gflops"] <= first.limit
    assert first.best["mIoU"] == max(r["mIoU"] for r in first.final if r["gflops"] <= first.limit)
    assert first.reference["setting"] == "train" and first.reference["d_mIoU"] == 0
    paper = final[str(ISRSetting((16, 8, 2, 1), (2, 4, 8)))]
    assert first.paper == paper and not paper["within_budget"]
    assert all(r["gflops"] < paper["gflops"] and r["mIoU"] >= paper["mIoU"] for r in first.beats_paper)

    # resumed with two more settings, the search scores only those two, and ends exactly where a search of 8
    # settings with the same seed ends: the same trials, scores and front
    images: list[int] = []
    resumed = run(path, trials=8, images=images)
    assert len(resumed.evaluated) == 8 and set(summary(first)) <= set(summary(resumed))
    assert len(images) == 2 * 2 + 4 * len(
        resumed.final
    )  # 2 new settings on 2 images, then the final re-scoring
    fresh = run(tmp_path, trials=8)
    assert summary(fresh) == summary(resumed)
    assert [(r["isr"], r["mIoU"]) for r in fresh.front] == [(r["isr"], r["mIoU"]) for r in resumed.front]
    with pytest.raises(StudyMismatchError, match="budget: stored"):
        run(path, budget=Budget("fraction", 0.9))


@pytest.mark.slow
def test_search_scores_agree_with_the_evaluation_loop(searched):
    """The search's mIoU of a setting is score_segmentor's under that setting, on the same images."""
    result = searched[1]
    model, loader = segmentor(), DataLoader(RandomBatches(4, 4))
    for row in result.final:
        with isr_applied(model, row["isr"]):
            assert row["mIoU"] == score_segmentor(model, loader, 4, InferenceConfig()).miou
            assert row["gflops"] == pytest.approx(count_flops(model, (3, *SIZE)), abs=1e-6)
    # a hand-computed confusion matrix gives the same mIoU (labels = argmax of the logits)
    with torch.no_grad():
        logits = model(torch.stack([b["image"] for b in RandomBatches(4, 4)]))
    masks = RandomBatches(4, 4).targets
    confmat = torch.bincount(4 * masks.flatten() + logits.argmax(1).flatten(), minlength=16).reshape(4, 4)
    assert score_segmentor(model, loader, 4).miou == pytest.approx(metrics_from_confusion(confmat).miou)


@pytest.mark.slow
def test_search_is_around_the_models_own_training_ratios(tmp_path):
    """A model trained at ratios that are no paper preset: the candidates, the budget fraction and every Δ come
    from its train_isr (the row "own"); the paper's four presets are still evaluated and seed the study."""
    own = ISRSetting((16, 8, 2, 1), (1, 2, 4))
    result = run(tmp_path, trials=7, train_isr=own)
    model = segmentor(own)
    with isr_applied(model, own):
        own_gflops = count_flops(model, (3, *SIZE))
    assert result.reference["isr"] == str(own) and result.reference["preset"] == "own"
    assert result.reference["gflops"] == pytest.approx(own_gflops, abs=1e-6)
    assert result.limit == pytest.approx(0.975 * own_gflops, abs=1e-6)
    assert result.budget.startswith("97.5 % of the training setting's")
    presets = {r["preset"]: r for r in result.presets}
    assert set(presets) == {"own", "train", "dec2x", "paper", "aggressive"}
    assert presets["own"]["d_mIoU"] == 0 and presets["own"]["d_gflops_pct"] == 0
    assert presets["train"]["d_gflops_pct"] > 0  # the paper's "train" costs more than this model's own ratios
    searched = [parse_isr(r["isr"]) for r in result.evaluated if not r["preset"]]
    assert len(searched) == 2 and all(s.encoder[0] in (16, 32) and s.decoder[0] in (1, 2) for s in searched)
    assert all(r["gflops"] <= result.limit for r in result.evaluated if not r["preset"])
    assert str(model.isr) == str(own)


@pytest.mark.slow
def test_latency_budget_and_unfit_budget(tmp_path):
    # a deterministic stand-in for measure_latency (the CLI passes the real one): 100 ms minus the ratios' sum
    def latency(settings):
        return {str(s): 100.0 - sum(s.encoder) - sum(s.decoder) for s in settings}

    result = run(tmp_path / "lat", budget=Budget("latency_ms", 58.0), trials=5, latency=latency)
    assert result.cost == "latency_ms" and result.limit == 58.0
    assert all(r["latency_ms"] == latency([parse_isr(r["isr"])])[r["isr"]] for r in result.final)
    assert all(r["latency_ms"] <= 58.0 for r in result.evaluated if not r["preset"])
    assert result.best["latency_ms"] <= 58.0
    assert [r["isr"] for r in result.front] == [
        r["isr"] for r in pareto_front(result.final, "mIoU", "latency_ms")
    ]
    with pytest.raises(BudgetError, match=r"the cheapest, 16,8,4,2-2,4,8, costs 0.05557 GFLOPs"):
        run(tmp_path / "none", budget=Budget("gflops", 0.05))


@pytest.mark.slow
def test_classifier_search_is_encoder_only_top1(tmp_path):
    torch.manual_seed(0)
    model = create_model("eft_t", num_classes=3).eval()
    scorer = Scorer(
        model, DataLoader(RandomBatches(6, 3, segmentation=False), batch_size=3), 3, "classification"
    )
    space = SearchSpace.around_training(model.train_isr, multipliers=[1, 2])
    result = search_isr(
        model,
        scorer,
        space,
        SearchOptions(Budget("fraction", 1.0), trials=5, flops_size=(64, 64)),
        tmp_path,
        {"test": "classifier"},
        log=lambda line: None,
    )
    assert result.metric == "top1" and len(result.evaluated) == 5
    assert {r["preset"] for r in result.evaluated} == {"train", "paper", "aggressive", None}
    assert all("-" not in r["isr"] for r in result.evaluated)  # encoder ratios only
    assert all(r["top1"] in {k / 6 for k in range(7)} for r in result.final)  # top-1 over 6 images
    assert result.best is not None and str(model.isr) == "8,4,2,1"  # the model's own setting restored
