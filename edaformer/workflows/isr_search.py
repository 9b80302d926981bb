"""The ISR search of a trained model from a composed ``conf/isr_search.yaml`` (:mod:`edaformer.search`), and the
files it leaves in its run dir: ``study.db`` (the Optuna study; ``search.resume_dir=<run dir>`` continues it),
``isr_search.md`` (front and presets tables, the best setting, the verdict against the paper's ISR),
``isr_search.json`` (every evaluated setting), ``isr_search_front.csv``, ``isr_search.png`` (the trade-off plot)
and the best setting as an ``isr`` preset, ``<preset_name>.yaml`` and ``conf/isr/<preset_name>.yaml``."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..data import ImageNetDataModule
from ..devices import resolve_device
from ..errors import UserError
from ..evaluation import InferenceConfig
from ..files import check_new_files, write_csv, write_json
from ..models import ISR_PRESETS, ISRSetting
from ..results import ResultRow
from ..search import (
    STUDY_FILE,
    Budget,
    BudgetError,
    Scorer,
    SearchOptions,
    SearchSpace,
    StudyMismatchError,
    check_study_file,
    search_isr,
)
from ..search.eta import Eta
from ..search.isr_search import SearchResult
from ..search.report import preset_yaml, summary
from ..tools.timing import measure_latency
from ..viz.tradeoff import benchmark_of, tradeoff_figure
from .checkpoint import load_checkpoint, require_checkpoint
from .components import apply_tta, build_datamodule

__all__ = ["SearchRun", "build_space", "search"]

log = logging.getLogger("edaformer.isr_search")
PROGRESS_EVERY_S = 15.0


class SearchRun:
    """A finished search: its result, the run dir it wrote and the report's Markdown."""

    def __init__(self, result: SearchResult, out: Path, text: str) -> None:
        self.result, self.out, self.text = result, out, text


def build_space(cfg: DictConfig, training: ISRSetting) -> SearchSpace:
    """The search space of ``search.multipliers`` / ``search.encoder`` / ``search.decoder`` around ``training``,
    the ratios the model was trained at (no decoder ratios: a classifier)."""
    if not cfg.search.multipliers:
        raise UserError("search.multipliers=[]: expected at least one multiplier, e.g. [1,2,4,8]")
    encoder, decoder = cfg.search.encoder, cfg.search.decoder
    for key, given, length in (("search.encoder", encoder, 4), ("search.decoder", decoder, 3)):
        if given is not None and (len(given) != length or not all(given)):
            raise UserError(f"{key}: expected {length} lists of candidate ratios, e.g. [[8,16],[4,8],...]")
    if decoder is not None and training.decoder is None:
        raise UserError(
            "search.decoder: this checkpoint is a classifier (no decoder); give search.encoder only"
        )
    plain = [None if v is None else OmegaConf.to_object(v) for v in (encoder, decoder)]
    return SearchSpace.around_training(training, list(cfg.search.multipliers), *plain)


def search(cfg: DictConfig) -> SearchRun:
    """Run (or resume) the search the config describes and write its outputs."""
    try:
        budget = Budget.from_options(**OmegaConf.to_container(cfg.budget))
    except (ValueError, TypeError) as err:
        raise UserError(str(err)) from None
    trials, max_trials = int(cfg.search.trials), cfg.search.max_trials
    if max_trials is not None and max_trials < trials:
        raise UserError(f"search.max_trials={max_trials}: must be >= search.trials={trials}")
    name = str(cfg.preset_name)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in ISR_PRESETS:
        raise UserError(
            f"preset_name={name}: expected a new name of letters, digits and _ (not {', '.join(ISR_PRESETS)})"
        )
    out = Path(cfg.paths.output_dir)
    check_new_files([out / f"{name}.yaml"], overwrite=True, key="preset_name")  # a name the file system takes
    if cfg.search.resume_dir is not None:
        out = Path(str(cfg.search.resume_dir))
        if not (out / STUDY_FILE).is_file():
            raise UserError(
                f"search.resume_dir={out}: no {STUDY_FILE} there (the run dir of an earlier search)"
            )
        check_study_file(out / STUDY_FILE)  # before the model and the data: a broken file is one line at once
    device = str(resolve_device(str(cfg.device)))
    ckpt = require_checkpoint(cfg.get("ckpt_path"))  # a file, a hub folder or a hub repo id
    if os.path.exists(ckpt):
        ckpt = str(Path(ckpt).resolve())
    dm = build_datamodule(cfg.data)
    task = "classification" if isinstance(dm, ImageNetDataModule) else "segmentation"
    model, info = load_checkpoint(cfg, task=task)
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
        val_images=cfg.search.val_images,
        progress=_progress_logger(),
    )
    flops_size = (int(cfg.flops_size[0]), int(cfg.flops_size[1]))

    def latency(settings: list[ISRSetting]) -> dict[str, float]:
        return measure_latency(model, settings, flops_size, int(cfg.search.latency_repeats), device=device)

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
        info.model_name, info.kind, info.num_classes, model.train_isr, cfg.data._target_.rsplit(".", 1)[-1], device,
        space.describe(),
    )  # fmt: skip
    timing = budget.cost == "latency_ms" or bool(cfg.search.latency)
    try:
        result = search_isr(
            model, scorer, space, options, out, fingerprint, latency if timing else None, log.info
        )
    except StudyMismatchError as err:
        raise UserError(f"{err}; start a new run dir instead") from None
    except BudgetError as err:
        raise UserError(str(err)) from None
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
    text = write_outputs(result, out, name, device, int(cfg.search.latency_repeats))
    return SearchRun(result, out, text)


def write_outputs(result: SearchResult, out: Path, name: str, device: str, repeats: int) -> str:
    """The report, the rows, the plot and the preset file (see the module docstring); returns the report."""
    reference = ResultRow.from_dict(result.final[0])
    size = reference.flops_size
    timed = all(r.get("latency_ms") is not None for r in result.final)
    header = (
        f"# ISR search: {reference.model} on {str(reference.data).rsplit('.', 1)[-1]}\n\n"
        f"Checkpoint {reference.ckpt}; GFLOPs at {size}"
        + (f", latency: {device}, batch 1, median of {repeats}" if timed else "")
        + "."
    )
    text = summary(result, header)
    best = result.best
    if best is not None:
        comment = (
            f"ISR found by edaformer-isr-search for {reference.model} ({reference.ckpt}) on {reference.data}\n"
            f"budget {result.budget}: {best['gflops']:.3f} GFLOPs at {size}, {result.metric} "
            f"{100 * best[result.metric]:.2f} % ({best[f'd_{result.metric}']:+.2f} against the training setting)"
        )
        yaml = preset_yaml(best["isr"], comment)
        (out / f"{name}.yaml").write_text(yaml)
        (out / "conf" / "isr").mkdir(parents=True, exist_ok=True)
        (out / "conf" / "isr" / f"{name}.yaml").write_text(yaml)
        searchpath = f"hydra.searchpath=[file://{(out / 'conf').resolve()}]"
        text += (
            f"\nThe best setting as a preset: `{out / 'conf' / 'isr' / (name + '.yaml')}`; use it with\n"
            f"{searchpath} isr={name}\n\ne.g. `edaformer-eval ckpt_path={reference.ckpt} {searchpath} isr={name}` "
            "(also edaformer-predict, edaformer-export)\n"
        )
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
    dataset = benchmark_of(reference)
    final = {r["isr"] for r in result.final}
    fig = tradeoff_figure(
        [ResultRow.from_dict(r) for r in result.final],
        reference=(str(reference.model), dataset) if dataset else None,
        title=f"ISR search: {reference.model}, budget {result.budget}",
        metric=result.metric,
        latency_label=f"{device} latency at {size}, batch 1 (ms, median)",
        front={r["isr"] for r in result.front},
        others=[ResultRow.from_dict(r) for r in result.evaluated if r["isr"] not in final],
        budget=result.limit,
        best=best["isr"] if best else None,
        cost=result.cost,
        base=result.reference["isr"],
    )
    fig.savefig(out / "isr_search.png", dpi=150)
    return text


def _progress_logger() -> Callable[[int, int], None]:
    """``(done, total)`` images → a log line at most every ``PROGRESS_EVERY_S`` seconds (long evaluations), with
    the time left for the setting (:class:`~edaformer.search.eta.Eta`)."""
    last, eta, previous = [time.monotonic()], [Eta(0)], [0]

    def report(done: int, total: int) -> None:
        if eta[0].total != total or done < previous[0]:  # a new setting's evaluation
            eta[0] = Eta(total)
        previous[0] = done
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S and done < total:
            log.info("    ... images %s", eta[0].update(done))
            last[0] = now

    return report


def _size_on_disk(ckpt: str) -> int | None:
    """Bytes of a checkpoint file or hub folder (part of the study's fingerprint); ``None`` for a hub repo id."""
    if os.path.isfile(ckpt):
        return os.path.getsize(ckpt)
    if os.path.isdir(ckpt):
        return sum(f.stat().st_size for f in Path(ckpt).iterdir() if f.is_file())
    return None
