"""``edaformer-eval ckpt_path=... [model=...] [data=...] [isr=paper]`` (or ``python eval.py ...``): evaluate one
checkpoint. Arguments: ``conf/eval.yaml`` (``edaformer-eval --help``).

Accepts our Lightning checkpoints, our converted files and the authors' MMSeg checkpoints (via
:func:`edaformer.checkpoints.load_model`). Writes ``results.{json,csv,md}`` and ``per_class_<setting>.md`` into the
run dir; with ``-m ... isr=train,dec2x,paper,aggressive`` each job of the sweep writes its own, and
``edaformer-isr-table sweep_dir=MULTIRUN_DIR`` gathers them into the paper's Table 4.

Cityscapes, as the authors' ``--format-only`` / ``--eval cityscapes``: ``cityscapes_format=DIR`` also writes every
prediction as the benchmark's label-id PNG (``<city>_<seq>_<frame>_leftImg8bit.png``, at the original resolution;
a submission to the server from the test split: ``data.val_split=test``), and ``cityscapes_eval=true`` scores them
with cityscapesscripts' official evaluation (results in the row as ``cityscapes_*`` and in
``cityscapes_eval.{json,log}`` of the run dir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from ..checkpoints import check_task, load_model
from ..data import CityscapesDataModule, ImageNetDataModule
from ..evaluation.acceleration import accelerate
from ..evaluation.cityscapes import CityscapesEvalError, evaluate_label_ids
from ..lit import WriteCityscapesLabelIds
from .evaluate import evaluate_setting, log_confusion_images, save_rows, summary_table
from .train import apply_tta, build_datamodule, runtime_extras
from .utils import (
    CONF_DIR,
    UserError,
    acceleration_options,
    check_accelerator,
    instantiate_callbacks,
    instantiate_checked,
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
    check_accelerator(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True)
    requested = cfg.model.model_name if overridden("model") else None  # then checked against the checkpoint
    try:  # before the data: a checkpoint (or repo id) that cannot be read fails at once
        net, info = load_model(ckpt, model_name=requested, num_classes=None)
    except (ValueError, KeyError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    dm = build_datamodule(cfg)
    check_task(info, "classification" if isinstance(dm, ImageNetDataModule) else "segmentation")
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
        present = set(cfg.model.keys())  # with the keys whose value is ??? (for them `in` is false)
        for key in (
            "pretrained",
            "init_from",
            "train_isr",
        ):  # the checkpoint holds every weight and its ratios
            if key in present:
                cfg.model[key] = None
    apply_tta(cfg)
    runtime = acceleration_options(cfg)
    kwargs: dict[str, Any] = {"net": accelerate(net, **runtime), "optimizer": None, "scheduler": None}
    kwargs["class_names"] = list(getattr(dm, "class_names", []) or []) or None
    module = instantiate(cfg.model, **kwargs)
    callbacks = instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm))
    label_ids = cityscapes_output(cfg, dm)
    if label_ids is not None:
        callbacks.append(WriteCityscapesLabelIds(label_ids))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate_checked(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers)
    if cfg.get("cityscapes_eval") and trainer.world_size > 1:
        raise UserError("cityscapes_eval=true scores on one process: set trainer.devices=1")
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    dm.setup("validate")
    row = evaluate_setting(trainer, module, dm.val_dataloader(), cfg.isr, cfg.flops_size)
    row.update(ckpt=ckpt, checkpoint_kind=info.kind, model=info.model_name, data=cfg.data._target_)
    row.update(runtime)
    if label_ids is not None:
        row["cityscapes_format"] = str(label_ids)
        if cfg.get("cityscapes_eval"):
            row.update(cityscapes_scores(label_ids, dm, run_dir(cfg)))
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


def cityscapes_output(cfg: DictConfig, dm: L.LightningDataModule) -> Path | None:
    """The folder for the label-id PNGs (``cityscapes_format``; ``<run dir>/cityscapes_labelIds`` when only
    ``cityscapes_eval`` is asked), or ``None``. It must be new or empty: results are never overwritten."""
    folder, score = cfg.get("cityscapes_format"), bool(cfg.get("cityscapes_eval"))
    if folder is None and not score:
        return None
    if not isinstance(dm, CityscapesDataModule):
        key = "cityscapes_format" if folder is not None else "cityscapes_eval"
        raise UserError(f"{key}: the Cityscapes format needs data=cityscapes, not {cfg.data._target_}")
    out = Path(folder) if folder is not None else run_dir(cfg) / "cityscapes_labelIds"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"cityscapes_format={out}: exists and is not an empty folder; choose a new one")
    return out


def cityscapes_scores(label_ids: Path, dm: CityscapesDataModule, out_dir: Path) -> dict[str, float]:
    """cityscapesscripts' scores of the written PNGs against the split's ``*_gtFine_labelIds.png``, in [0, 1]."""
    gt_dir = dm.split_dirs(dm.splits["val"])[1]
    try:
        results = evaluate_label_ids(label_ids, gt_dir, out_dir)
    except (CityscapesEvalError, ImportError) as err:
        raise UserError(f"cityscapes_eval: {err}") from None
    scores = {
        "cityscapes_mIoU": results["averageScoreClasses"],
        "cityscapes_iIoU": results["averageScoreInstClasses"],
        "cityscapes_category_mIoU": results["averageScoreCategories"],
        "cityscapes_category_iIoU": results["averageScoreInstCategories"],
    }
    print(
        "Cityscapes official evaluation (cityscapesscripts): "
        + ", ".join(f"{k.removeprefix('cityscapes_')} {100 * v:.2f}" for k, v in scores.items())
        + f"  [{out_dir / 'cityscapes_eval.json'}]"
    )
    return {k: float(v) for k, v in scores.items()}


def _model_config(name: str) -> DictConfig:
    """``conf/model/<name>.yaml`` composed (its defaults list applied), interpolations left for the caller's root."""
    if GlobalHydra.instance().is_initialized():  # inside the Hydra app
        return compose(config_name=None, overrides=[f"+model={name}"]).model
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(config_name=None, overrides=[f"+model={name}"]).model
