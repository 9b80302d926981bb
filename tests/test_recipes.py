"""The recipes (conf/recipe/<data>.yaml, picked by data=, with model deltas) resolve to the authors' values, which
live in edaformer.data.benchmarks; docs/reproducing.md states the same numbers."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from edaformer.cli import train as train_command
from edaformer.data.benchmarks import BENCHMARKS
from edaformer.models import ISR_PRESETS, parse_isr
from tests.conftest import REPO, run_main
from tests.test_configs import compose_cfg

# model, data → (crop, batch per GPU, inference mode, FLOPs size): the authors' configs (docs/reproducing.md)
PAPER = {
    ("edaformer_t", "ade20k"): ([512, 512], 4, "whole", [512, 512]),
    ("edaformer_b", "ade20k"): ([512, 512], 4, "whole", [512, 512]),
    ("edaformer_t", "coco_stuff"): ([512, 512], 4, "whole", [512, 512]),
    ("edaformer_b", "coco_stuff"): ([512, 512], 4, "whole", [512, 512]),
    ("edaformer_t", "cityscapes"): ([1024, 1024], 2, "slide", [1024, 2048]),
    ("edaformer_b", "cityscapes"): ([1024, 1024], 1, "slide", [1024, 2048]),
}


@pytest.mark.parametrize(("model", "data"), sorted(PAPER))
def test_recipe_follows_model_and_data(model, data, tmp_path):
    cfg = compose_cfg("train", [f"model={model}", f"data={data}"], tmp_path)
    crop, batch, mode, flops = PAPER[model, data]
    assert cfg.model.model_name == model and cfg.tags == [model, data]
    assert list(cfg.data.crop_size) == crop
    assert cfg.data.batch_size == batch
    assert cfg.global_batch == 4 * batch  # the authors' samples_per_gpu on their four GPUs
    assert cfg.model.inference.mode == mode
    if mode == "slide":
        assert list(cfg.model.inference.crop_size) == [1024, 1024]
        assert list(cfg.model.inference.stride) == [768, 768]
    assert cfg.trainer.max_steps == cfg.model.scheduler.total_steps == 160_000
    assert cfg.trainer.val_check_interval == (8000 if data == "ade20k" else 4000)
    assert cfg.model.scheduler.warmup_steps == 1500 and cfg.model.scheduler.warmup_ratio == 1e-6
    assert cfg.model.scheduler.power == 1.0
    opt = cfg.model.optimizer
    assert (opt.lr, list(opt.betas), opt.weight_decay) == (6e-5, [0.9, 0.999], 0.01)
    assert cfg.model.head_lr_mult == 10.0
    assert cfg.model.avg_non_ignore is False  # the authors: mean over all pixels, ignored ones as 0
    assert list(cfg.flops_size) == flops
    assert list(cfg.tta_scales) == list(BENCHMARKS[data].tta_scales)
    assert OmegaConf.is_missing(cfg.model, "pretrained")  # the ImageNet encoder must be named (or null)
    assert cfg.model.train_isr is None and cfg.model.init_from is None
    dm = instantiate(cfg.data, root=tmp_path)  # the crop reaches the pipeline the DataModule builds
    assert (dm.train_pipeline[1].height, dm.train_pipeline[1].width) == tuple(crop)


def test_edaformer_mini_takes_the_t_recipe(tmp_path):
    """edaformer_mini has no recipe of its own: on Cityscapes it gets T's batch, on the demo T's from-scratch run."""
    city = compose_cfg("train", ["model=edaformer_mini", "data=cityscapes"], tmp_path)
    assert (city.data.batch_size, city.global_batch, city.model.inference.mode) == (2, 8, "slide")


@pytest.mark.parametrize("data", ["demo", "custom"])
@pytest.mark.parametrize("model", ["edaformer_t", "edaformer_b", "edaformer_mini"])
def test_demo_and_custom_recipes_train_from_scratch(model, data, tmp_path):
    cfg = compose_cfg("train", [f"model={model}", f"data={data}"], tmp_path)
    assert cfg.model.pretrained is None and cfg.global_batch is None
    if data == "demo":
        assert (cfg.trainer.max_steps, cfg.model.optimizer.lr, list(cfg.flops_size)) == (
            1200,
            1e-3,
            [128, 160],
        )


@pytest.mark.parametrize("way", ["full", "finetune"])
def test_aggressive_training_experiments(way, tmp_path):
    """Table 4's row marked *: EDAFormer-T on ADE20K trained at (16,8,4,2)-(2,4,8), whole recipe or fine-tuned."""
    cfg = compose_cfg("train", [f"experiment=edaformer_t_ade20k_aggressive_{way}"], tmp_path)
    assert (cfg.model.model_name, cfg.data._target_) == ("edaformer_t", "edaformer.data.ADE20KDataModule")
    with torch.device("meta"):
        net = instantiate(cfg.model.net, num_classes=150)
    assert net.train_isr == ISR_PRESETS["aggressive"] == net.isr
    assert (
        parse_isr(cfg.model.isr, own=net.train_isr) == ISR_PRESETS["aggressive"]
    )  # validation at its ratios
    assert list(cfg.final_eval.isr) == ["own", "train"] and cfg.global_batch == 16
    if way == "full":
        assert OmegaConf.is_missing(cfg.model, "pretrained") and cfg.trainer.max_steps == 160_000
    else:
        assert cfg.model.pretrained is None and list(cfg.required_values) == ["model.init_from"]
        assert cfg.trainer.max_steps == cfg.model.scheduler.total_steps == 16_000
        assert cfg.model.scheduler.warmup_steps == 1500 and cfg.model.optimizer.lr == 6e-5


def test_a_removed_experiment_is_a_user_error(tmp_path):
    """experiment=edaformer_t_ade20k (now model=edaformer_t data=ade20k) stops with exit status 2 before any work."""
    status = run_main(train_command.main, "experiment=edaformer_t_ade20k", f"paths.root_dir={tmp_path}")
    assert status == 2 and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("model", ["eft_t", "eft_b"])
def test_imagenet_recipe(model, tmp_path):
    cfg = compose_cfg("train", [f"model={model}", "data=imagenet"], tmp_path)
    assert cfg.model._target_ == "edaformer.lit.ClassificationModule"
    assert cfg.data.batch_size == 128 and cfg.global_batch == 1024
    assert cfg.model.mixup.mixup_alpha == 0.8 and cfg.model.mixup.cutmix_alpha == 1.0
    assert cfg.model.label_smoothing == 0.1
    assert cfg.model.optimizer.lr == 5e-4 and cfg.model.optimizer.weight_decay == 0.05
    assert cfg.model.lr_reference_batch == 512  # 5e-4 x 1024 / 512 = 1e-3 (global batch: the plan)
    assert cfg.data.repeated_augmentation == 3 and cfg.data.seed == cfg.seed
    assert cfg.trainer.max_steps == 300 * 1251 and cfg.model.scheduler.warmup_steps == 5 * 1251
    assert cfg.monitor == "val/top1" and list(cfg.flops_size) == [224, 224]


def reproducing_table() -> dict[str, dict[str, str]]:
    """The recipe table of docs/reproducing.md: row name (``<model>_<data>``) → column → cell text."""
    lines = (REPO / "docs" / "reproducing.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| recipe |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = dict(zip(header, cells))
    return rows


def number(text: str) -> int:
    return int(text.split()[0].replace(",", ""))


@pytest.mark.slow
def test_reproducing_doc_matches_the_recipes(tmp_path):
    """docs/reproducing.md is what the configs run: crop, batch per GPU, iterations, eval interval, inference, TTA."""
    table = reproducing_table()
    assert set(table) == {f"{m}_{d}" for m, d in PAPER} | {"eft_t_imagenet", "eft_b_imagenet"}
    for name, row in table.items():
        data = next(d for d in ("ade20k", "cityscapes", "coco_stuff", "imagenet") if name.endswith(f"_{d}"))
        model = name.removesuffix(f"_{data}")
        assert row["run"] == f"`model={model} data={data}`", name
        cfg = compose_cfg("train", [f"model={model}", f"data={data}"], tmp_path)
        batch = row["batch per GPU × GPUs = global"]
        assert number(batch) == cfg.data.batch_size, name
        assert int(batch.rsplit("=", 1)[1].replace(",", "")) == cfg.global_batch, name
        assert number(row["iterations"]) == cfg.trainer.max_steps, name
        assert number(row["eval every"]) == cfg.trainer.val_check_interval, name
        if data == "imagenet":
            assert row["crop"] == "224×224"
            continue
        assert row["crop"] == "×".join(map(str, cfg.data.crop_size)), name
        assert row["the authors' config"].startswith("`local_configs/edaformer/"), name
        assert row["inference"].split()[0] == cfg.model.inference.mode, name
        ratios = [float(r) for r in row["TTA ratios (+ flip)"].split(",")]
        assert ratios == list(cfg.tta_scales), name
    # COCO-Stuff: the authors' file says 80k but inherits the 160k schedule, which is what runs
    assert "80k" in table["edaformer_t_coco_stuff"]["the authors' config"]
    assert number(table["edaformer_t_coco_stuff"]["iterations"]) == 160_000
