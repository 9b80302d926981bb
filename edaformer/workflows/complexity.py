"""Params and GFLOPs (multiply-accumulates, the paper's convention) of a model under an ISR setting at an input
size (``edaformer-complexity``), every EDAFormer cell of the paper's Tables 1 and 4 next to ours, and Table 3
(one attention layer: SA, SRA, EFA, with and without ISR).

Counting runs on the ``meta`` device (shapes only), so even EDAFormer-B at 1024×2048 takes about a second.
"""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from ..data.benchmarks import BENCHMARKS
from ..errors import UserError
from ..flops import count_flops, count_params
from ..models import ISR_PRESETS, create_model, parse_isr
from ..paper import PAPER_GFLOPS, PAPER_PARAMS, as_printed
from ..tables import markdown_table
from ..tools.attention_cost import CONVENTION, attention_costs

__all__ = ["attention_table", "complexity", "paper_tables"]


def complexity(cfg: DictConfig) -> str:
    """The report for ``cfg.model.net`` under ``cfg.isr`` at ``cfg.size``: classes, input, ISR, params, GFLOPs."""
    size = (int(cfg.size[0]), int(cfg.size[1]))
    with torch.device("meta"):
        model = instantiate(cfg.model.net)
    try:
        model.set_isr(parse_isr(cfg.isr, own=model.train_isr))
    except ValueError as err:
        raise UserError(f"isr: {err}") from None
    gflops, params = count_flops(model, (3, *size)), count_params(model)
    return (
        f"{cfg.model.model_name}  classes={model.num_classes}  input=3×{size[0]}×{size[1]}  ISR={model.isr}\n"
        f"params: {params:,} ({params / 1e6:.2f} M)\n"
        f"GFLOPs: {gflops:.3f} (multiply-accumulates ×1e-9)"
    )


def _build(name: str, num_classes: int | None) -> nn.Module:
    with torch.device("meta"):  # no weights are allocated or initialised
        return create_model(name, num_classes=num_classes)


def paper_tables() -> tuple[str, bool]:
    """Markdown tables of every EDAFormer cell of Tables 1/4 and of the params rows, ours next to the paper's;
    and whether every cell is ours as the paper prints it, to one decimal (a cell that differs is marked ✗)."""
    all_ok, models, gflops_rows = True, {}, []
    for (name, preset, dataset), paper in PAPER_GFLOPS.items():
        bench = BENCHMARKS[dataset]
        model = models.setdefault((name, bench.num_classes), _build(name, bench.num_classes))
        model.set_isr(preset)
        ours = count_flops(model, (3, *bench.eval_size))
        ok = as_printed(ours) == paper
        all_ok &= ok
        gflops_rows.append([
            name, f"{dataset} ({bench.eval_size[0]}×{bench.eval_size[1]}, {bench.num_classes})", f"{preset} ({ISR_PRESETS[preset]})",
            f"{ours:.2f}", f"{paper:.1f}", f"{ours - paper:+.2f}{'' if ok else ' ✗'}",
        ])  # fmt: skip
    params_rows = []
    for name, (paper_m, classes, paper_g) in PAPER_PARAMS.items():
        model = _build(name, classes)
        ours_m = count_params(model) / 1e6
        ok = as_printed(ours_m) == paper_m
        gflops = None
        if paper_g is not None:
            ours_g = count_flops(model, (3, 224, 224))
            ok &= as_printed(ours_g) == paper_g
            gflops = f"{ours_g:.2f} / {paper_g:.1f}"
        all_ok &= ok
        params_rows.append(
            [
                name,
                classes,
                f"{ours_m:.3f}",
                f"{paper_m:.1f}",
                f"{ours_m - paper_m:+.3f}{'' if ok else ' ✗'}",
                gflops,
            ]
        )
    right = ["left", "left", "left", "right", "right", "right"]
    text = markdown_table(
        ["model", "dataset (size, classes)", "ISR setting", "GFLOPs (ours)", "GFLOPs (paper)", "diff"],
        gflops_rows,
        right,
    )
    text += "\n\n" + markdown_table(
        ["model", "classes", "params M (ours)", "params M (paper)", "diff", "GFLOPs 224² (ours / paper)"],
        params_rows,
        ["left", "right", "right", "right", "right", "left"],
    )
    return text, all_ok


# Table 3's setting: stage 3 (stride 16) of a 224×224 input; ISR there as the aggressive preset reduces it
TABLE_3_INPUT, TABLE_3_STAGE, TABLE_3_ISR = (224, 224), 2, "aggressive"


def attention_table(cfg: DictConfig) -> str:
    """Table 3 for the encoder of ``cfg.model.net``: params and GFLOPs of one attention layer with its stage-3
    channels and heads on the tokens of a 224×224 input (14×14), SA vs SRA vs EFA at the training ratio and at the
    aggressive preset's (ISR), and the counting convention."""
    with torch.device("meta"):
        model = instantiate(cfg.model.net)
    efa = model.encoder.stages[TABLE_3_STAGE].blocks[0].attn
    stride = 2 ** (TABLE_3_STAGE + 2)
    hw = (TABLE_3_INPUT[0] // stride, TABLE_3_INPUT[1] // stride)
    isr_ratio = ISR_PRESETS[TABLE_3_ISR].encoder[TABLE_3_STAGE]
    rows = attention_costs(efa.dim, efa.num_heads, hw, efa.train_pool_ratio, isr_ratio)
    cells = [[r.attention, r.reduction, r.keys, f"{r.params / 1e3:.1f}", f"{r.gflops:.4f}"] for r in rows]
    header = ["attention", "key/value reduction", "keys/values N'", "params (K)", "GFLOPs"]
    title = (
        f"{cfg.model.model_name}, stage {TABLE_3_STAGE + 1}: C={efa.dim}, {efa.num_heads} heads, "
        f"N={hw[0]}×{hw[1]} tokens of a {TABLE_3_INPUT[0]}×{TABLE_3_INPUT[1]} input; ISR: the {TABLE_3_ISR} "
        f"preset's ratio {isr_ratio} at this stage"
    )
    return f"{title}\n\n{markdown_table(header, cells, ['left', 'left', 'right', 'right', 'right'])}\n\n{CONVENTION}"
