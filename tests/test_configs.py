"""Every config composes, and the recipes resolve to the authors' values (docs/reproducing.md)."""

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
def test_recipe_follows_model_and_data(model, data, via_experiment, tmp_path):
    overrides = [f"experiment={model}_{data}"] if via_experiment else [f"model={model}", f"data={data}"]
    cfg = compose_cfg("train", overrides, tmp_path)
    crop, batch, mode, embed, flops = PAPER[model, data]
    assert cfg.model.model_name == model
    assert list(cfg.data.crop_size) == crop
    assert cfg.data.batch_size == batch
    assert cfg.data.train_pipeline[1].height == crop[0]  # the crop reaches the pipeline
    assert cfg.model.inference.mode == mode
    if mode == "slide":
        assert list(cfg.model.inference.crop_size) == [1024, 1024]
        assert list(cfg.model.inference.stride) == [768, 768]
    with torch.device("meta"):  # the network the config builds: shapes only
        net = instantiate(cfg.model.net, num_classes=150)
    assert net.decode_head.fuse.conv.out_channels == embed
    fc1 = net.decode_head.levels[0].blocks[0].mix_ffn.fc1  # decoder Mix-FFN ratio: T 2, B 1
    assert fc1.out_features / fc1.in_features == (2.0 if model.endswith("_t") else 1.0)
    assert cfg.trainer.max_steps == 160_000
    assert cfg.model.scheduler.total_steps == 160_000
    assert cfg.model.scheduler.warmup_steps == 1500 and cfg.model.scheduler.warmup_ratio == 1e-6
    assert cfg.model.scheduler.power == 1.0
    opt = cfg.model.optimizer
    assert (opt.lr, list(opt.betas), opt.weight_decay) == (6e-5, [0.9, 0.999], 0.01)
    assert cfg.model.head_lr_mult == 10.0
    assert list(cfg.flops_size) == flops
    assert cfg.model.ignore_index == 255
    assert cfg.model.avg_non_ignore is False  # the authors: mean over all pixels, ignored ones as 0
    assert cfg.global_batch == 4 * batch  # the authors' samples_per_gpu on their four GPUs
    assert OmegaConf.is_missing(cfg.model, "pretrained")  # the ImageNet encoder must be named (or null)
    assert cfg.model.train_isr is None and cfg.model.init_from is None


@pytest.mark.parametrize("data", ["demo", "custom"])
@pytest.mark.parametrize("model", ["edaformer_t", "edaformer_b"])
def test_demo_and_custom_recipes_train_from_scratch(model, data, tmp_path):
    cfg = compose_cfg("train", [f"model={model}", f"data={data}"], tmp_path)
    assert cfg.model.pretrained is None and cfg.global_batch is None


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


def test_experiment_equals_model_data_pair(tmp_path):
    a = compose_cfg("train", ["experiment=edaformer_b_cityscapes"], tmp_path)
    b = compose_cfg("train", ["model=edaformer_b", "data=cityscapes"], tmp_path)
    strip = {"tags", "hydra"}
    ca = {k: v for k, v in OmegaConf.to_container(a, resolve=False).items() if k not in strip}
    cb = {k: v for k, v in OmegaConf.to_container(b, resolve=False).items() if k not in strip}
    assert ca == cb


@pytest.mark.parametrize("model", ["eft_t", "eft_b"])
def test_imagenet_recipe(model, tmp_path):
    cfg = compose_cfg("train", [f"experiment={model}_imagenet"], tmp_path)
    assert cfg.model._target_ == "edaformer.lit.ClassificationModule"
    assert cfg.data.batch_size == 128
    assert cfg.model.mixup.mixup_alpha == 0.8 and cfg.model.mixup.cutmix_alpha == 1.0
    assert cfg.model.label_smoothing == 0.1
    assert cfg.model.optimizer.lr == 5e-4 and cfg.model.optimizer.weight_decay == 0.05
    assert cfg.model.lr_reference_batch == 512  # 1e-3 at 128 x 8 GPUs: global batch 1024
    targets = [op._target_.rsplit(".", 1)[-1] for op in cfg.data.train_pipeline]
    assert targets == [
        "RandomResizedCrop",
        "HorizontalFlip",
        "RandAugment",
        "Normalize",
        "RandomErasing",
    ]
    ra, erase = cfg.data.train_pipeline[2], cfg.data.train_pipeline[4]
    assert (ra.num_ops, ra.magnitude, ra.magnitude_std, ra.op_prob) == (
        2,
        9,
        0.5,
        0.5,
    )  # rand-m9-mstd0.5-inc1
    assert erase.p == 0.25 and cfg.data.repeated_augmentation == 3 and cfg.data.seed == cfg.seed
    assert cfg.trainer.max_steps == 300 * 1251 and cfg.model.scheduler.warmup_steps == 5 * 1251
    assert cfg.monitor == "val/top1" and list(cfg.flops_size) == [224, 224]


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
        assert cfg.trainer.sync_batchnorm is (trainer == "ddp")  # SyncBN is GPU-only in torch
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
    cfg = compose_cfg("train", [f"model={model}"], tmp_path)
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


def reproducing_table() -> dict[str, dict[str, str]]:
    """The recipe table of docs/reproducing.md: experiment name → column → cell text."""
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
        cfg = compose_cfg("train", [f"experiment={name}"], tmp_path)
        batch = row["batch per GPU × GPUs = global"]
        assert number(batch) == cfg.data.batch_size, name
        assert int(batch.rsplit("=", 1)[1].replace(",", "")) == cfg.global_batch, name
        assert number(row["iterations"]) == cfg.trainer.max_steps, name
        assert number(row["eval every"]) == cfg.trainer.val_check_interval, name
        if name.startswith("eft"):
            assert row["crop"] == "224×224" and cfg.data.train_pipeline[0].size == [224, 224]
            continue
        assert row["crop"] == "×".join(map(str, cfg.data.crop_size)), name
        assert row["the authors' config"].startswith("`local_configs/edaformer/"), name
        assert row["inference"].split()[0] == cfg.model.inference.mode, name
        ratios = [float(r) for r in row["TTA ratios (+ flip)"].split(",")]
        assert ratios == list(cfg.tta_scales), name
    # COCO-Stuff: the authors' file says 80k but inherits the 160k schedule, which is what runs
    assert "80k" in table["edaformer_t_coco_stuff"]["the authors' config"]
    assert number(table["edaformer_t_coco_stuff"]["iterations"]) == 160_000
