"""The ISR trade-off figure from result files (``edaformer-plot-isr-tradeoff``): mIoU against GFLOPs, and against
the latency of one prediction per setting when asked (:mod:`edaformer.viz.tradeoff`)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from ..checkpoints import is_hub_reference, load_model
from ..devices import resolve_device
from ..errors import UserError
from ..results import ResultRow, read_result_rows
from ..tools.timing import measure_latency
from ..viz.tradeoff import benchmark_of, sort_rows, tradeoff_figure

__all__ = ["plot_tradeoff"]


def plot_tradeoff(cfg: DictConfig) -> list[ResultRow]:
    """Draw the rows of ``cfg.results`` into ``cfg.output``; with ``latency=true`` each row's ``latency_ms`` is
    measured with the rows' checkpoint (or ``ckpt_path``) at the rows' FLOPs size (or ``size``). Returns the rows."""
    sources = [str(p) for p in cfg.results] if not isinstance(cfg.results, str) else [cfg.results]
    rows = sort_rows(read_result_rows(sources))
    model_name = rows[0].model or "edaformer_t"
    latency_label = "latency (ms / image)"
    if cfg.latency:
        ckpt = cfg.ckpt_path or rows[0].ckpt or _run_checkpoint(Path(str(rows[0].source)).parent)
        if not ckpt or not (Path(ckpt).is_file() or is_hub_reference(ckpt)):
            raise UserError(f"latency=true needs a checkpoint (ckpt_path=...); the rows name {ckpt!r}")
        device = str(resolve_device(str(cfg.device)))
        try:
            model, info = load_model(ckpt)
        except ValueError as err:
            raise UserError(str(err).splitlines()[0]) from None
        model_name = info.model_name
        size = (
            (int(cfg.size[0]), int(cfg.size[1])) if cfg.size is not None else rows[0].flops_hw or (512, 512)
        )
        times = measure_latency(model, [r.isr for r in rows], size, int(cfg.repeats), device=device)
        for r in rows:
            r.latency_ms = times[r.isr]
        latency_label = f"{device.upper()} latency at {size[0]}x{size[1]}, batch 1 (ms, median)"
    reference = None
    if str(cfg.reference) == "auto":
        dataset = benchmark_of(rows[0])
        reference = (model_name, dataset) if dataset else None
    elif str(cfg.reference) != "none":
        reference = (model_name, str(cfg.reference))
    fig = tradeoff_figure(rows, reference=reference, title=cfg.title, latency_label=latency_label)
    Path(cfg.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(cfg.output, dpi=cfg.dpi)
    return rows


def _run_checkpoint(run_dir: Path) -> str | None:
    """The best (else last) checkpoint of a train run dir, whose ``isr_results.json`` rows name none."""
    found = sorted((run_dir / "checkpoints").glob("best*.ckpt")) or sorted(
        (run_dir / "checkpoints").glob("last.ckpt")
    )
    return str(found[-1]) if found else None
