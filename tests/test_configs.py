"""Every config composes (the recipes' values: tests/test_recipes.py)."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from edaformer.config import CONF_DIR, SCHEMAS, register
from edaformer.config import compose as compose_config
from edaformer.lit import ClassificationModule, SegmentationModule
from edaformer.models import ISR_PRESETS, MODELS, ISRSetting, parse_isr
from edaformer.workflows.components import instantiate_loggers
from edaformer.workflows.train import build_module
from tests.conftest import REPO


def compose_cfg(name: str, overrides: list[str], tmp: Path) -> DictConfig:
    """Compose ``conf/<name>.yaml`` as the command would, with every path under ``tmp``."""
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            name,
            overrides=[*overrides, f"paths.root_dir={tmp}", f"paths.output_dir={tmp}/out"],
            return_hydra_config=True,
        )
        HydraConfig().set_config(cfg)
    return cfg


def test_default_is_edaformer_t_on_demo(tmp_path):
    cfg = compose_cfg("train", [], tmp_path)
    assert cfg.model.model_name == "edaformer_t"
    assert cfg.data._target_ == "edaformer.data.DemoDataModule"
    assert list(cfg.final_eval.isr) == ["own", "paper"]
    assert cfg.trainer.max_steps <= 2000


@pytest.mark.parametrize("isr", ["train", "dec2x", "paper", "aggressive"])
def test_isr_presets(isr, tmp_path):
    cfg = compose_cfg("eval", [f"isr={isr}", "ckpt_path=x"], tmp_path)
    assert parse_isr(cfg.model.isr) == ISR_PRESETS[isr]
    assert tuple(cfg.model.isr.encoder) == ISR_PRESETS[isr].encoder


@pytest.mark.parametrize("command", ["train", "eval"])
def test_validation_defaults_to_the_models_own_ratios(command, tmp_path):
    cfg = compose_cfg(command, ["ckpt_path=x"] if command == "eval" else [], tmp_path)
    own = ISR_PRESETS["aggressive"]
    assert parse_isr(cfg.model.isr, own=own) == own
    cfg = compose_cfg(
        command, ["isr.decoder=[2,4,8]", *(["ckpt_path=x"] if command == "eval" else [])], tmp_path
    )
    assert parse_isr(cfg.model.isr, own=ISR_PRESETS["train"]) == ISR_PRESETS["dec2x"]  # one part replaced


def test_free_isr_values(tmp_path):
    cfg = compose_cfg("eval", ["isr.encoder=[16,8,4,1]", "isr.decoder=[2,2,8]", "ckpt_path=x"], tmp_path)
    assert parse_isr(cfg.model.isr) == ISRSetting((16, 8, 4, 1), (2, 2, 8))


@pytest.mark.parametrize("model", ["edaformer_t", "edaformer_b", "eft_t", "eft_b"])
def test_model_configs_state_only_what_differs_from_the_factory(model, tmp_path):
    cfg = compose_cfg("train", [f"model={model}", "model.num_classes=7"], tmp_path)
    factory = MODELS[model]
    defaults = {k: p.default for k, p in inspect.signature(factory).parameters.items()}
    restated = {
        k: v
        for k, v in cfg.model.net.items()
        if k in defaults and v == defaults[k] and not OmegaConf.is_interpolation(cfg.model.net, k)
    }  # a model-level knob handed on (model.train_isr) is not a restatement
    assert restated == {}
    with torch.device("meta"):
        net = instantiate(cfg.model.net)
    assert net.num_classes == 7


def test_b_configs_reuse_the_t_configs(tmp_path):
    for t, b in [("edaformer_t", "edaformer_b"), ("eft_t", "eft_b")]:
        ct = OmegaConf.to_container(compose_cfg("train", [f"model={t}"], tmp_path).model, resolve=False)
        cb = OmegaConf.to_container(compose_cfg("train", [f"model={b}"], tmp_path).model, resolve=False)
        assert cb == {**ct, "model_name": b}


@pytest.mark.parametrize("trainer", ["default", "cpu", "gpu", "ddp", "ddp_cpu"])
def test_trainer_configs(trainer, tmp_path):
    cfg = compose_cfg("train", [f"trainer={trainer}"], tmp_path)
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    if trainer.startswith("ddp"):
        assert cfg.trainer.strategy.process_group_backend == ("gloo" if trainer == "ddp_cpu" else "nccl")
    if trainer == "ddp_cpu":
        assert cfg.trainer.devices == 2 and cfg.trainer.accelerator == "cpu"


@pytest.mark.parametrize(
    "logger",
    [
        "csv",
        "tensorboard",
        "wandb",
        pytest.param("mlflow", marks=pytest.mark.slow),
        "default",
    ],  # mlflow: creates its store
)
def test_logger_configs_instantiate(logger, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_cfg("train", [f"logger={logger}"], tmp_path)
    loggers = instantiate_loggers(cfg.logger)
    assert loggers
    if logger in ("wandb", "mlflow"):
        assert {type(lg).__name__ for lg in loggers} == {
            "CSVLogger",
            "WandbLogger" if logger == "wandb" else "MLFlowLogger",
        }


@pytest.mark.slow
@pytest.mark.parametrize("model", ["edaformer_t", "edaformer_b", "eft_t", "eft_b"])
def test_model_configs_instantiate(model, tmp_path):
    data = "imagenet" if model.startswith("eft") else "demo"  # the data each kind trains on (and its recipe)
    cfg = compose_cfg("train", [f"model={model}", f"data={data}"], tmp_path)
    dm = SimpleNamespace(num_classes=7, class_names=[f"c{i}" for i in range(7)])
    module = build_module(cfg, dm, global_batch=16)
    assert isinstance(module, ClassificationModule if model.startswith("eft") else SegmentationModule)
    assert module.hparams.model_name == model and module.hparams.num_classes == 7
    assert type(module.hparams.num_classes) is int and module.hparams.global_batch == 16


@pytest.mark.slow
def test_every_command_config_has_its_schema(tmp_path):
    """Each primary config lists its schema first: the composed config is typed (a bad value is refused)."""
    commands = sorted(p.stem for p in (REPO / "conf").glob("*.yaml"))
    assert commands == sorted(SCHEMAS)
    for command in commands:
        assert OmegaConf.get_type(compose_config(command)) is SCHEMAS[command], command


def test_callback_configs_instantiate(tmp_path):
    cfg = compose_cfg("train", [], tmp_path)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    assert {type(c).__name__ for c in callbacks} >= {
        "ModelCheckpoint",
        "RestoreRNGState",
        "LearningRateMonitor",
    }


@pytest.mark.parametrize(("minutes", "seconds"), [(None, 600), ("0.5", 30), ("null", None)])
def test_checkpoint_every_minutes_is_a_time_interval(tmp_path, minutes, seconds):
    """``last.ckpt`` every N minutes of training (default 10) besides the step-based checkpoints; ``null``: never."""
    cfg = compose_cfg("train", [f"checkpoint_every_minutes={minutes}"] if minutes else [], tmp_path)
    timed = instantiate(cfg.callbacks.timed_checkpoint)
    interval = timed._train_time_interval
    assert (interval.total_seconds() if interval else None) == seconds
    assert timed.every_n_epochs == 0 and timed._every_n_train_steps == 0  # nothing else triggers it
