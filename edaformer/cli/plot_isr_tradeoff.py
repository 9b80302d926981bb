"""``edaformer-plot-isr-tradeoff``: mIoU against GFLOPs (and latency) of ISR settings from ``edaformer-eval``
results (:mod:`edaformer.viz.tradeoff`). Arguments: ``conf/plot_isr_tradeoff.yaml`` (``--help``).

``latency=true`` times one prediction (``model.predict``: labels) per setting with the rows' checkpoint (CPU
unless ``device=``), at the rows' FLOPs size. The paper's Table 4 (GFLOPs as reference lines, single-scale mIoU as
open markers) is drawn beside ours when the rows are EDAFormer-T/B on ADE20K or COCO-Stuff at 512×512 or
Cityscapes at 1024×2048 (``reference=`` forces a benchmark, ``reference=none`` hides it).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from ..checkpoints import is_hub_reference, load_model
from ..tools.timing import measure_latency
from ..viz.tradeoff import benchmark_of, load_result_rows, tradeoff_figure
from .utils import (
    CONF_DIR,
    UserError,
    as_choice,
    as_count,
    as_device,
    as_list,
    as_size,
    report_user_errors,
    run_hydra_main,
)


def _run_checkpoint(run_dir: Path) -> str | None:
    """The best (else last) checkpoint of a train run dir, whose ``isr_results.json`` rows name none."""
    found = sorted((run_dir / "checkpoints").glob("best*.ckpt")) or sorted(
        (run_dir / "checkpoints").glob("last.ckpt")
    )
    return str(found[-1]) if found else None


@hydra.main(config_path=str(CONF_DIR), config_name="plot_isr_tradeoff", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    reference_choice = as_choice(
        cfg.reference, ("auto", "none", "ade20k", "cityscapes", "coco_stuff"), "reference"
    )
    try:
        rows = load_result_rows([str(p) for p in as_list(cfg.results)])
    except ValueError as err:
        raise UserError(str(err)) from None
    model_name = str(rows[0].get("model") or "edaformer_t")
    latency_label = "latency (ms / image)"
    if cfg.latency:
        ckpt = cfg.ckpt_path or rows[0].get("ckpt") or _run_checkpoint(Path(rows[0]["source"]).parent)
        if not ckpt or not (Path(ckpt).is_file() or is_hub_reference(ckpt)):
            raise UserError(f"latency=true needs a checkpoint (ckpt_path=...); the rows name {ckpt!r}")
        device = as_device(cfg.device)
        try:
            model, info = load_model(ckpt)
        except ValueError as err:
            raise UserError(str(err).splitlines()[0]) from None
        model_name = info.model_name
        if cfg.size is not None:
            size = as_size(cfg.size)
        else:  # the rows' FLOPs size, "HxW"
            size = tuple(int(v) for v in str(rows[0].get("flops_size", "512x512")).split("x"))
        times = measure_latency(
            model, [r["isr"] for r in rows], size, as_count(cfg.repeats, "repeats"), device=device
        )
        for r in rows:
            r["latency_ms"] = times[r["isr"]]
        latency_label = f"{device.upper()} latency at {size[0]}x{size[1]}, batch 1 (ms, median)"
    reference = None
    if reference_choice == "auto":
        dataset = benchmark_of(rows[0])
        reference = (model_name, dataset) if dataset else None
    elif reference_choice != "none":
        reference = (model_name, reference_choice)
    fig = tradeoff_figure(rows, reference=reference, title=cfg.title, latency_label=latency_label)
    Path(cfg.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(cfg.output, dpi=cfg.dpi)
    for r in rows:
        latency = f", {r['latency_ms']:.1f} ms" if "latency_ms" in r else ""
        print(
            f"{r.get('setting', r['isr']):>10}  {r['isr']:>16}  {r['gflops']:.3f} GFLOPs  "
            f"{100 * r['mIoU']:.2f} mIoU{latency}"
        )
    print(f"trade-off figure: {cfg.output}")


def main() -> int:
    """Entry point of ``edaformer-plot-isr-tradeoff`` (and ``scripts/plot_isr_tradeoff.py``)."""
    return run_hydra_main(_main)
