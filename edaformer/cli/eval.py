"""``edaformer-eval ckpt_path=... [model=...] [data=...] [isr=paper]`` (or ``python eval.py ...``): evaluate one
checkpoint. Arguments: ``conf/eval.yaml`` (``edaformer-eval --help``).

Accepts our Lightning checkpoints, our converted files and the authors' MMSeg checkpoints (via
:func:`edaformer.checkpoints.load_model`). Writes ``results.{json,csv,md}`` and ``per_class_<setting>.md`` into the
run dir; with ``-m ... isr=train,dec2x,paper,aggressive`` each job of the sweep writes its own, and
``edaformer-isr-table sweep_dir=MULTIRUN_DIR`` gathers them into the paper's Table 4.
"""

from __future__ import annotations

from typing import Any

import hydra
import lightning as L
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from ..checkpoints import load_model
from .evaluate import evaluate_setting, log_confusion_images, save_rows, summary_table
from .train import apply_tta, build_datamodule, runtime_extras
from .utils import (
    CONF_DIR,
    UserError,
    instantiate_callbacks,
    instantiate_loggers,
    overridden,
    plain_config,
    report_user_errors,
    require_checkpoint,
    run_dir,
    run_hydra_main,
)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Load ``cfg.ckpt_path``, test it on the validation split under ``cfg.isr``; returns the result row."""
    ckpt = require_checkpoint(cfg.get("ckpt_path"))
    L.seed_everything(cfg.seed, workers=True)
    requested = cfg.model.model_name if overridden("model") else None  # then checked against the checkpoint
    try:  # before the data: a checkpoint (or repo id) that cannot be read fails at once
        net, info = load_model(ckpt, model_name=requested, num_classes=None)
    except (ValueError, KeyError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    dm = build_datamodule(cfg)
    if info.num_classes != dm.num_classes:
        raise UserError(
            f"{ckpt} predicts {info.num_classes} classes but data {cfg.data._target_} has {dm.num_classes}"
        )
    with open_dict(cfg):
        own = _model_config(info.model_name)
        if own._target_ != cfg.model._target_:  # e.g. a classifier checkpoint: use its own module settings
            cfg.model = own
        cfg.model.model_name = info.model_name
        cfg.model.num_classes = info.num_classes
    apply_tta(cfg)
    kwargs: dict[str, Any] = {"net": net, "optimizer": None, "scheduler": None}
    kwargs["class_names"] = list(getattr(dm, "class_names", []) or []) or None
    if "pretrained" in cfg.model:
        kwargs["pretrained"] = None  # the checkpoint holds all weights
    module = instantiate(cfg.model, **kwargs)
    callbacks = instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    dm.setup("validate")
    row = evaluate_setting(trainer, module, dm.val_dataloader(), cfg.isr, cfg.flops_size)
    row.update(ckpt=ckpt, checkpoint_kind=info.kind, model=info.model_name, data=cfg.data._target_)
    for lg in loggers:
        lg.log_metrics({f"eval/{k}": v for k, v in row.items() if isinstance(v, float)})
    if trainer.is_global_zero:
        log_confusion_images(loggers, save_rows([row], run_dir(cfg), stem="results"))
        print(row.get("table", ""))
        print(summary_table([row]))
        print(f"Run dir: {run_dir(cfg)}")
    return row


@hydra.main(config_path=str(CONF_DIR), config_name="eval", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    evaluate(cfg)


def main() -> int:
    """Entry point of ``edaformer-eval`` (and ``eval.py``)."""
    return run_hydra_main(_main)


def _model_config(name: str) -> DictConfig:
    """``conf/model/<name>.yaml`` composed (its defaults list applied), interpolations left for the caller's root."""
    if GlobalHydra.instance().is_initialized():  # inside the Hydra app
        return compose(config_name=None, overrides=[f"+model={name}"]).model
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(config_name=None, overrides=[f"+model={name}"]).model
