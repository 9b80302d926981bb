"""The parts of a run built from its config: DataModule, module arguments, loggers, callbacks, the accelerator
checked, the config as plain data."""

from __future__ import annotations

import copy
import importlib.util
import logging
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from ..errors import MissingExtraError, UserError
from ..lit.loggers import open_mlflow_run, prepare_wandb_env

__all__ = [
    "build_datamodule",
    "instantiate_callbacks",
    "instantiate_loggers",
    "plain_config",
    "runtime_extras",
]

log = logging.getLogger("edaformer")


def build_datamodule(data: DictConfig) -> L.LightningDataModule:
    """The DataModule of a ``data`` node; runs ``prepare_data`` (the demo data is generated here on first use)."""
    dm = instantiate(data)
    dm.prepare_data()
    return dm


def instantiate_loggers(cfg: DictConfig | None) -> list[L.pytorch.loggers.Logger]:
    """Loggers from a ``logger`` node (a dict of logger configs); TensorBoard is skipped when not installed, MLflow
    missing is a :class:`~edaformer.errors.MissingExtraError` and its run is opened at once
    (:func:`open_mlflow_run`), W&B runs offline without an API key and starts a run of its own
    (:func:`prepare_wandb_env`)."""
    loggers = []
    for name, conf in (cfg or {}).items():
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            continue
        target = conf._target_
        if target.endswith("TensorBoardLogger") and not (
            importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX")
        ):
            log.warning("logger %s skipped: tensorboard is not installed", name)
            continue
        if target.endswith("MLFlowLogger") and importlib.util.find_spec("mlflow") is None:
            raise MissingExtraError("mlflow", "mlflow")
        if target.endswith("WandbLogger"):
            prepare_wandb_env(conf.get("save_dir"))
        if target.endswith("MLFlowLogger"):
            loggers.append(open_mlflow_run(lambda conf=conf: instantiate(conf), conf.get("tracking_uri")))
        else:
            loggers.append(instantiate(conf))
    return loggers


def instantiate_callbacks(cfg: DictConfig | None, **extra: dict[str, Any]) -> list[L.Callback]:
    """Callbacks from a ``callbacks`` node; ``extra[name]`` adds runtime keyword arguments (e.g. a palette)."""
    return [
        instantiate(conf, **extra.get(name, {}))
        for name, conf in (cfg or {}).items()
        if isinstance(conf, DictConfig) and "_target_" in conf
    ]


def runtime_extras(dm: L.LightningDataModule) -> dict[str, dict[str, Any]]:
    """Keyword arguments of callbacks known only once the data is built: the palette of the sample images."""
    palette = getattr(dm, "palette", None)
    return {"samples": {"palette": [list(c) for c in palette]}} if palette is not None else {}


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers (for loggers and result files); choices as strings."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False, enum_to_str=True)  # type: ignore[return-value]


# the network's identity in conf/model/*.yaml: model.net reads them (interpolated), the module reads the network
NETWORK_KEYS = ("model_name", "num_classes", "train_isr")


def module_node(model: DictConfig) -> DictConfig:
    """``model`` without the network's identity (:data:`NETWORK_KEYS`): ``model.net`` reads them, the module
    takes them from the network. The copy keeps its parent, so interpolations still resolve."""
    node = copy.copy(model)
    with open_dict(node):
        for key in NETWORK_KEYS:
            node.pop(key, None)
    return node


def apply_tta(cfg: DictConfig) -> None:
    """``tta=true``: multi-scale + flip inference with the recipe's ``tta_scales`` (the authors' ratios)."""
    if cfg.get("tta") and "inference" in cfg.model:
        with open_dict(cfg):
            cfg.model.inference.scales = cfg.tta_scales
            cfg.model.inference.flip = True


def check_accelerator(trainer: DictConfig) -> None:
    """``trainer.accelerator=gpu|cuda`` on a machine without one is a :class:`UserError` before anything is built."""
    accelerator = str(trainer.get("accelerator", "auto"))
    mps = accelerator == "gpu" and torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not (torch.cuda.is_available() or mps):
        raise UserError(
            f"trainer.accelerator={accelerator}: CUDA is not available on this machine (use trainer=cpu, or "
            "trainer.accelerator=auto)"
        )
