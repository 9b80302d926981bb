"""``edaformer-gpu-check`` (``make gpu-check``): on a CUDA machine, the tests marked ``cuda`` and then the GPU
benchmark tables, written to ``docs/benchmarks_gpu.md`` (:mod:`edaformer.workflows.gpu_check`). Without a GPU it
says so (exit 2) unless ``device=cpu`` asks for the CPU dry run of the same code at tiny sizes."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.gpu_check import gpu_check

    out = gpu_check(cfg)
    print(out.read_text())
    print(f"wrote {out}")


def main() -> int:
    """Entry point of ``edaformer-gpu-check`` (and ``scripts/gpu_check.py``)."""
    return run_command("gpu_check", _task)
