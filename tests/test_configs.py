"""Every config composes, and the recipes resolve to the authors' values (DESIGN.md §6)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from edaformer.cli.train import build_module
from edaformer.cli.utils import CONF_DIR
from edaformer.lit import ClassificationModule, SegmentationModule


def compose_cfg(name: str, overrides: list[str], tmp: Path = Path("/tmp/edaformer-test")) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            name,
            overrides=[*overrides, f"paths.root_dir={tmp}", f"paths.output_dir={tmp}/out"],
            return_hydra_config=True,
        )
        HydraConfig().set_config(cfg)
    return cfg


# model, data → (crop, batch per GPU, inference mode, E, iterations, FLOPs size)
PAPER = {
    ("edaformer_t", "ade20k"): ([512, 512], 4, "whole", 128, [512, 512]),
    ("edaformer_b", "ade20k"): ([512, 512], 4, "whole", 768, [512, 512]),
    ("edaformer_t", "coco_stuff"): ([512, 512], 4, "whole", 128, [512, 512]),
    ("edaformer_b", "coco_stuff"): ([512, 512], 4, "whole", 768, [512, 512]),
    ("edaformer_t", "cityscapes"): ([1024, 1024], 2, "slide", 128, [1024, 2048]),
    ("edaformer_b", "cityscapes"): ([1024, 1024], 1, "slide", 768, [1024, 2048]),
}


@pytest.mark.parametrize(("model", "data"), sorted(PAPER))
@pytest.mark.parametrize("via_experiment", [False, True])
def test_recipe_follows_model_and_data(model, data, via_experiment):
    overrides = [f"experiment={model}_{data}"] if via_experiment else [f"model={model}", f"data={data}"]
    cfg = compose_cfg("train", overrides)
    crop, batch, mode, embed, flops = PAPER[model, data]
    assert cfg.model.model_name == model
    assert list(cfg.data.crop_size) == crop
    assert cfg.data.batch_size == batch
    assert cfg.data.train_pipeline[1].height == crop[0]  # the crop reaches the pipeline
    assert cfg.model.inference.mode == mode
    if mode == "slide":
        assert list(cfg.model.inference.crop_size) == [1024, 1024]
        assert list(cfg.model.inference.stride) == [768, 768]
    assert cfg.model.net.embed_dim == embed
    assert cfg.model.net.mlp_ratio == (2.0 if model.endswith("_t") else 1.0)
    assert cfg.trainer.max_steps == 160_000
    assert cfg.model.scheduler.total_steps == 160_000
    assert cfg.model.scheduler.warmup_steps == 1500 and cfg.model.scheduler.warmup_ratio == 1e-6
    assert cfg.model.scheduler.power == 1.0
    opt = cfg.model.optimizer
    assert (opt.lr, list(opt.betas), opt.weight_decay) == (6e-5, [0.9, 0.999], 0.01)
    assert cfg.model.head_lr_mult == 10.0
    assert list(cfg.flops_size) == flops
    assert cfg.model.ignore_index == 255


def test_experiment_equals_model_data_pair():
    a = compose_cfg("train", ["experiment=edaformer_b_cityscapes"])
    b = compose_cfg("train", ["model=edaformer_b", "data=cityscapes"])
    strip = {"tags", "hydra"}
    ca = {k: v for k, v in OmegaConf.to_container(a, resolve=False).items() if k not in strip}
    cb = {k: v for k, v in OmegaConf.to_container(b, resolve=False).items() if k not in strip}
    assert ca == cb


@pytest.mark.parametrize("model", ["eft_t", "eft_b"])
def test_imagenet_recipe(model):
    cfg = compose_cfg("train", [f"experiment={model}_imagenet"])
    assert cfg.model._target_ == "edaformer.lit.ClassificationModule"
    assert cfg.data.batch_size == 128
    assert cfg.model.mixup.mixup_alpha == 0.8 and cfg.model.mixup.cutmix_alpha == 1.0
    assert cfg.model.label_smoothing == 0.1
    assert cfg.model.optimizer.lr == 1e-3 and cfg.model.optimizer.weight_decay == 0.05
    assert cfg.trainer.max_steps == 300 * 1251 and cfg.model.scheduler.warmup_steps == 5 * 1251
    assert cfg.monitor == "val/top1" and list(cfg.flops_size) == [224, 224]


def test_default_is_edaformer_t_on_demo():
    cfg = compose_cfg("train", [])
    assert cfg.model.model_name == "edaformer_t"
    assert cfg.data._target_ == "edaformer.data.DemoDataModule"
    assert list(cfg.final_eval.isr) == ["train", "paper"]
    assert cfg.trainer.max_steps <= 2000


@pytest.mark.parametrize("isr", ["train", "dec2x", "paper", "aggressive"])
def test_isr_presets(isr):
    from edaformer.models import ISR_PRESETS

    cfg = compose_cfg("eval", [f"isr={isr}", "ckpt_path=x"])
    assert tuple(cfg.model.isr[0]) == ISR_PRESETS[isr].encoder
    assert tuple(cfg.model.isr[1]) == ISR_PRESETS[isr].decoder


def test_free_isr_values():
    cfg = compose_cfg("eval", ["isr.encoder=[16,8,4,1]", "isr.decoder=[2,2,8]", "ckpt_path=x"])
    assert list(cfg.model.isr[0]) == [16, 8, 4, 1] and list(cfg.model.isr[1]) == [2, 2, 8]


@pytest.mark.parametrize("trainer", ["default", "cpu", "gpu", "ddp", "ddp_cpu"])
def test_trainer_configs(trainer):
    cfg = compose_cfg("train", [f"trainer={trainer}"])
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    if trainer.startswith("ddp"):
        assert cfg.trainer.sync_batchnorm is (trainer == "ddp")  # SyncBN is GPU-only in torch
        assert cfg.trainer.strategy.process_group_backend == ("gloo" if trainer == "ddp_cpu" else "nccl")
    if trainer == "ddp_cpu":
        assert cfg.trainer.devices == 2 and cfg.trainer.accelerator == "cpu"


@pytest.mark.parametrize("logger", ["csv", "tensorboard", "wandb", "default"])
def test_logger_configs_instantiate(logger, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_cfg("train", [f"logger={logger}"], tmp_path)
    from edaformer.cli.utils import instantiate_loggers

    loggers = instantiate_loggers(cfg.logger)
    assert loggers
    if logger == "wandb":
        assert {type(lg).__name__ for lg in loggers} == {"CSVLogger", "WandbLogger"}


@pytest.mark.parametrize("model", ["edaformer_t", "edaformer_b", "eft_t", "eft_b"])
def test_model_configs_instantiate(model):
    cfg = compose_cfg("train", [f"model={model}"])
    dm = SimpleNamespace(num_classes=7, class_names=[f"c{i}" for i in range(7)])
    module = build_module(cfg, dm)
    assert isinstance(module, ClassificationModule if model.startswith("eft") else SegmentationModule)
    assert module.hparams.model_name == model and module.hparams.num_classes == 7
    assert type(module.hparams.num_classes) is int


def test_callback_configs_instantiate():
    cfg = compose_cfg("train", [])
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    assert {type(c).__name__ for c in callbacks} >= {
        "ModelCheckpoint",
        "RestoreRNGState",
        "LearningRateMonitor",
    }
