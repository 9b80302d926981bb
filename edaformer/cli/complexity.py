"""``edaformer-complexity``: params and GFLOPs (multiply-accumulates, the paper's convention) of any model × ISR
setting × input size, or the paper's Tables 1 and 4 next to ours (``table=true``). Arguments: ``conf/complexity.yaml``
(``edaformer-complexity --help``).

Counting runs on the ``meta`` device (shapes only), so even EDAFormer-B at 1024×2048 takes about a second.
"""

from __future__ import annotations

import sys

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..data.benchmarks import BENCHMARKS
from ..flops import count_flops, count_params
from ..models import ISR_PRESETS, create_model
from ..paper import PAPER_GFLOPS, PAPER_PARAMS, as_printed
from .utils import CONF_DIR, UserError, as_count, as_size, isr_setting, report_user_errors, run_hydra_main


def build(name: str, num_classes: int | None):
    with torch.device("meta"):  # no weights are allocated or initialised
        return create_model(name, num_classes=num_classes)


def paper_table() -> tuple[str, bool]:
    """Markdown rows for every EDAFormer cell of Tables 1/4 plus the params rows; and whether all match."""
    lines = [
        "| model | dataset (size, classes) | ISR setting | GFLOPs (ours) | GFLOPs (paper) | diff |",
        "|---|---|---|---:|---:|---:|",
    ]
    all_ok = True
    models = {}
    for (name, preset, dataset), paper in PAPER_GFLOPS.items():
        bench = BENCHMARKS[dataset]
        key = (name, bench.num_classes)
        if key not in models:
            models[key] = build(name, bench.num_classes)
        model = models[key]
        model.set_isr(preset)
        ours = count_flops(model, (3, *bench.eval_size))
        ok = as_printed(ours) == paper
        all_ok &= ok
        lines.append(
            f"| {name} | {dataset} ({bench.eval_size[0]}×{bench.eval_size[1]}, {bench.num_classes}) | {preset} "
            f"({ISR_PRESETS[preset]}) | {ours:.2f} | {paper:.1f} | {ours - paper:+.2f}{'' if ok else ' ✗'} |"
        )
    lines += [
        "",
        "| model | classes | params M (ours) | params M (paper) | diff | GFLOPs 224² (ours / paper) |",
    ]
    lines.append("|---|---:|---:|---:|---:|---|")
    for name, (paper_m, classes, paper_g) in PAPER_PARAMS.items():
        model = build(name, classes)
        ours_m = count_params(model) / 1e6
        ok = as_printed(ours_m) == paper_m
        gflops = ""
        if paper_g is not None:
            ours_g = count_flops(model, (3, 224, 224))
            ok &= as_printed(ours_g) == paper_g
            gflops = f"{ours_g:.2f} / {paper_g:.1f}"
        all_ok &= ok
        lines.append(
            f"| {name} | {classes} | {ours_m:.3f} | {paper_m:.1f} | {ours_m - paper_m:+.3f}{'' if ok else ' ✗'} "
            f"| {gflops} |"
        )
    return "\n".join(lines), all_ok


def complexity(cfg: DictConfig) -> str:
    """The report for ``cfg.model`` (its ``net``) under ``cfg.isr`` at ``cfg.size``."""
    size = as_size(cfg.size)
    if cfg.num_classes is not None:
        as_count(cfg.num_classes, "num_classes")
    try:
        with torch.device("meta"):
            model = instantiate(cfg.model.net)
    except ValueError as err:
        raise UserError(str(err)) from None
    setting = isr_setting(cfg.isr, model)
    try:
        model.set_isr(setting)
    except ValueError as err:
        raise UserError(str(err)) from None
    gflops = count_flops(model, (3, *size))
    params = count_params(model)
    return (
        f"{cfg.model.model_name}  classes={model.num_classes}  input=3×{size[0]}×{size[1]}  ISR={model.isr}\n"
        f"params: {params:,} ({params / 1e6:.2f} M)\n"
        f"GFLOPs: {gflops:.3f} (multiply-accumulates ×1e-9)"
    )


@hydra.main(config_path=str(CONF_DIR), config_name="complexity", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    if cfg.table:
        table, ok = paper_table()
        print(table)
        print("\nall cells as the paper prints them" if ok else "\nSOME CELLS DIFFER FROM THE PAPER (✗)")
        if not ok:
            sys.exit(1)
        return
    print(complexity(cfg))


def main() -> int:
    """Entry point of ``edaformer-complexity`` (and ``scripts/complexity.py``)."""
    return run_hydra_main(_main)
