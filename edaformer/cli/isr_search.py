"""``edaformer-isr-search ckpt_path=... budget.gflops=4.5``: the accuracy–cost Pareto front of a trained model's ISR
settings and the best one under a budget (:mod:`edaformer.search`). Arguments: ``conf/isr_search.yaml``
(``edaformer-isr-search --help``).

Writes into the run dir: ``study.db`` (the Optuna study; ``search.resume_dir=<run dir>`` continues it),
``isr_search.md`` (front and presets tables, the best setting, the verdict against the paper's ISR),
``isr_search.json`` (every evaluated setting), ``isr_search_front.csv``, ``isr_search.png`` (the trade-off plot)
and the best setting as an ``isr`` preset, ``<preset_name>.yaml`` and ``conf/isr/<preset_name>.yaml``: with
``hydra.searchpath=[file://<run dir>/conf]`` every command takes ``isr=<preset_name>``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from ..checkpoints import load_model
from ..data import ImageNetDataModule
from ..evaluation import InferenceConfig
from ..files import write_csv, write_json
from ..models import ISR_PRESETS, ISRSetting
from ..search import (
    STUDY_FILE,
    Budget,
    BudgetError,
    Scorer,
    SearchOptions,
    SearchSpace,
    StudyMismatchError,
    search_isr,
)
from ..search.isr_search import SearchResult
from ..search.report import preset_yaml, summary
from ..tools.timing import measure_latency
from ..viz.tradeoff import benchmark_of, tradeoff_figure
from .train import apply_tta, build_datamodule
from .utils import (
    CONF_DIR,
    UserError,
    as_count,
    as_device,
    as_list,
    as_size,
    overridden,
    report_user_errors,
    require_checkpoint,
    run_dir,
    run_hydra_main,
    shown,
)

log = logging.getLogger("edaformer.isr_search")
PROGRESS_EVERY_S = 15.0


def _candidates(value: Any, key: str, length: int) -> list[list[int]] | None:
    if value is None:
        return None
    lists = as_list(value)
    if len(lists) != length or not all(isinstance(c, list) and c for c in lists):
        raise UserError(
            f"{key}={shown(value)}: expected {length} lists of candidate ratios, e.g. [[8,16],[4,8],...]"
        )
    return [[as_count(v, key) for v in c] for c in lists]


def build_space(cfg: DictConfig, training: ISRSetting) -> SearchSpace:
    """The search space of ``search.multipliers`` / ``search.encoder`` / ``search.decoder`` around ``training``,
    the ratios the model was trained at (``model.train_isr``; no decoder ratios: a classifier)."""
    multipliers = [as_count(m, "search.multipliers") for m in as_list(cfg.search.multipliers)]
    if not multipliers:
        raise UserError("search.multipliers=[]: expected at least one multiplier, e.g. [1,2,4,8]")
    encoder = _candidates(cfg.search.encoder, "search.encoder", 4)
    decoder_candidates = _candidates(cfg.search.decoder, "search.decoder", 3)
    if decoder_candidates is not None and training.decoder is None:
        raise UserError(
            "search.decoder: this checkpoint is a classifier (no decoder); give search.encoder only"
        )
    return SearchSpace.around_training(training, multipliers, encoder, decoder_candidates)


def _progress_logger() -> Any:
    """``(done, total)`` images → a log line at most every ``PROGRESS_EVERY_S`` seconds (long evaluations)."""
    last = [time.monotonic()]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S and done < total:
            log.info("    ... %d/%d images", done, total)
            last[0] = now

    return report


def search(cfg: DictConfig) -> SearchResult:
    """Run (or resume) the search the config describes and write its outputs; returns the result."""
    try:
        budget = Budget.from_options(**OmegaConf.to_container(cfg.budget))
    except (ValueError, TypeError) as err:
        raise UserError(str(err)) from None
    trials = as_count(cfg.search.trials, "search.trials")
    max_trials = (
        None if cfg.search.max_trials is None else as_count(cfg.search.max_trials, "search.max_trials")
    )
    if max_trials is not None and max_trials < trials:
        raise UserError(f"search.max_trials={max_trials}: must be >= search.trials={trials}")
    val_images = (
        None if cfg.search.val_images is None else as_count(cfg.search.val_images, "search.val_images")
    )
    flops_size = as_size(cfg.flops_size, "flops_size", minimum=32)
    name = str(cfg.preset_name)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in ISR_PRESETS:
        raise UserError(
            f"preset_name={name}: expected a new name of letters, digits and _ (not {', '.join(ISR_PRESETS)})"
        )
    out = run_dir(cfg)
    if cfg.search.resume_dir is not None:
        out = Path(str(cfg.search.resume_dir))
        if not (out / STUDY_FILE).is_file():
            raise UserError(
                f"search.resume_dir={out}: no {STUDY_FILE} there (the run dir of an earlier search)"
            )
    device = as_device(cfg.device)
    ckpt = require_checkpoint(cfg.get("ckpt_path"))  # a file, a hub folder or a hub repo id
    if os.path.exists(ckpt):
        ckpt = str(Path(ckpt).resolve())

    dm = build_datamodule(cfg)
    requested = cfg.model.model_name if overridden("model") else None
    task = "classification" if isinstance(dm, ImageNetDataModule) else "segmentation"
    try:
        model, info = load_model(ckpt, model_name=requested, num_classes=None, task=task)
    except (ValueError, KeyError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    if info.num_classes != dm.num_classes:
        raise UserError(
            f"{ckpt} predicts {info.num_classes} classes but data {cfg.data._target_} has {dm.num_classes}"
        )
    model = model.to(device).eval()
    has_decoder = model.isr.decoder is not None
    space = build_space(cfg, model.train_isr)
    inference = None
    if has_decoder:
        apply_tta(cfg)
        inference = InferenceConfig(**OmegaConf.to_container(cfg.model.inference, resolve=True))
    elif cfg.tta:
        raise UserError("tta=true: multi-scale testing is for segmentors; this checkpoint is a classifier")
    dm.setup("validate")
    scorer = Scorer(
        model,
        dm.val_dataloader(),
        info.num_classes,
        task="segmentation" if has_decoder else "classification",
        inference=inference,
        val_images=val_images,
        progress=_progress_logger(),
    )
    repeats = as_count(cfg.search.latency_repeats, "search.latency_repeats")

    def latency(settings: list[ISRSetting]) -> dict[str, float]:
        return measure_latency(model, settings, flops_size, repeats, device=device)

    timing = budget.cost == "latency_ms" or bool(cfg.search.latency)
    fingerprint = {
        "ckpt": ckpt,
        "ckpt_bytes": _size_on_disk(ckpt),
        "model": info.model_name,
        "train_isr": str(model.train_isr),
        "data": cfg.data._target_,
        "data_root": str(getattr(dm, "root", "")),
        "val_images": scorer.images(False),
        "flops_size": list(flops_size),
        "tta": bool(cfg.tta),
        "space": space.positions,
        "budget": [budget.kind, budget.value],
        "device": device if budget.cost == "latency_ms" else None,
        "seed": int(cfg.seed),
    }
    options = SearchOptions(budget, trials, max_trials, int(cfg.seed), flops_size)
    log.info(
        "%s (%s, %d classes, trained at %s) on %s, device %s; search space:\n%s",
        info.model_name,
        info.kind,
        info.num_classes,
        model.train_isr,
        cfg.data._target_.rsplit(".", 1)[-1],
        device,
        space.describe(),
    )
    try:
        result = search_isr(
            model, scorer, space, options, out, fingerprint, latency if timing else None, log.info
        )
    except StudyMismatchError as err:
        raise UserError(f"{err}; start a new run dir instead") from None
    except BudgetError as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: finished trials are stored in {out / STUDY_FILE}; resume with the same arguments "
            f"and search.resume_dir={out}",
            file=sys.stderr,
        )
        sys.exit(130)
    context = {
        "model": info.model_name,
        "train_isr": str(model.train_isr),
        "data": cfg.data._target_,
        "flops_size": f"{flops_size[0]}x{flops_size[1]}",
        "tta": bool(cfg.tta),
        "ckpt": ckpt,
    }
    for row in result.evaluated + result.final:
        row.update(context)
    write_outputs(result, out, name, device, flops_size, cfg)
    return result


def write_outputs(
    result: SearchResult, out: Path, name: str, device: str, flops_size: tuple[int, int], cfg: DictConfig
) -> None:
    """The report, the rows, the plot and the preset file (see the module docstring)."""
    reference_row = result.final[0]
    header = (
        f"# ISR search: {reference_row['model']} on {reference_row['data'].rsplit('.', 1)[-1]}\n\n"
        f"Checkpoint {reference_row['ckpt']}; GFLOPs at {flops_size[0]}x{flops_size[1]}"
        + (
            f", latency: {device}, batch 1, median of {cfg.search.latency_repeats}"
            if _has_latency(result)
            else ""
        )
        + "."
    )
    text = summary(result, header)
    best = result.best
    if best is not None:
        comment = (
            f"ISR found by edaformer-isr-search for {reference_row['model']} ({reference_row['ckpt']}) on "
            f"{reference_row['data']}\nbudget {result.budget}: {best['gflops']:.3f} GFLOPs at "
            f"{flops_size[0]}x{flops_size[1]}, {result.metric} {100 * best[result.metric]:.2f} % "
            f"({best[f'd_{result.metric}']:+.2f} against the training setting)"
        )
        yaml = preset_yaml(best["isr"], comment)
        (out / f"{name}.yaml").write_text(yaml)
        (out / "conf" / "isr").mkdir(parents=True, exist_ok=True)
        (out / "conf" / "isr" / f"{name}.yaml").write_text(yaml)
        usage = (
            f"hydra.searchpath=[file://{(out / 'conf').resolve()}] isr={name}\n\n"
            f"e.g. `edaformer-eval ckpt_path={reference_row['ckpt']} hydra.searchpath=[file://"
            f"{(out / 'conf').resolve()}] isr={name}` (also edaformer-predict, edaformer-export)"
        )
        text += f"\nThe best setting as a preset: `{out / 'conf' / 'isr' / (name + '.yaml')}`; use it with\n{usage}\n"
    (out / "isr_search.md").write_text(text)
    write_json(
        out / "isr_search.json",
        {
            "metric": result.metric,
            "cost": result.cost,
            "budget": result.budget,
            "limit": result.limit,
            "train_isr": result.reference["isr"],
            "trials": result.trials,
            "search_images": result.search_images,
            "total_images": result.total_images,
            "best": best,
            "front": result.front,
            "presets": result.presets,
            "beats_paper": result.beats_paper,
            "results": result.final,
            "evaluated": result.evaluated,
        },
    )
    write_csv(out / "isr_search_front.csv", result.front)
    dataset = benchmark_of(reference_row)
    fig = tradeoff_figure(
        result.final,
        reference=(reference_row["model"], dataset) if dataset else None,
        title=f"ISR search: {reference_row['model']}, budget {result.budget}",
        metric=result.metric,
        latency_label=f"{device} latency at {flops_size[0]}x{flops_size[1]}, batch 1 (ms, median)",
        front={r["isr"] for r in result.front},
        others=[r for r in result.evaluated if r["isr"] not in {f["isr"] for f in result.final}],
        budget=result.limit,
        best=best["isr"] if best else None,
        cost=result.cost,
        base=result.reference["isr"],
    )
    fig.savefig(out / "isr_search.png", dpi=150)
    print(text)
    print(f"Run dir: {out}")


def _has_latency(result: SearchResult) -> bool:
    return all(r.get("latency_ms") is not None for r in result.final)


@hydra.main(config_path=str(CONF_DIR), config_name="isr_search", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    search(cfg)


def _size_on_disk(ckpt: str) -> int | None:
    """Bytes of a checkpoint file or hub folder (part of the study's fingerprint); ``None`` for a hub repo id."""
    if os.path.isfile(ckpt):
        return os.path.getsize(ckpt)
    if os.path.isdir(ckpt):
        return sum(f.stat().st_size for f in Path(ckpt).iterdir() if f.is_file())
    return None


def main() -> int:
    """Entry point of ``edaformer-isr-search`` (and ``scripts/isr_search.py``)."""
    return run_hydra_main(_main)
