"""``edaformer-visualize-attention ckpt_path=PATH image=PATH point=[x,y] [isr=paper]``: EFA attention maps like the
paper's Figure 1, for one query pixel, with the training ratios and under ``isr``
(:mod:`edaformer.workflows.attention`). Arguments: ``conf/visualize_attention.yaml`` (``--help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.attention import visualize_attention

    print(f"attention figure: {visualize_attention(cfg)}")


def main() -> int:
    """Entry point of ``edaformer-visualize-attention`` (and ``scripts/visualize_attention.py``)."""
    return run_command("visualize_attention", _task)
