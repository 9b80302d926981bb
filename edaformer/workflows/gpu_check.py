"""The GPU check from a composed ``conf/gpu_check.yaml`` (``edaformer-gpu-check``, ``make gpu-check``): the tests
marked ``cuda``, then the GPU benchmark tables (:mod:`edaformer.tools.gpu_check`), written to one report."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import torch
from omegaconf import DictConfig

from ..errors import UserError
from ..tools.gpu_check import plan, report, run_cuda_tests, run_sections
from .runtime import command_line

__all__ = ["gpu_check"]

log = logging.getLogger("edaformer.gpu_check")
REPO = Path(__file__).resolve().parents[2]


def gpu_check(cfg: DictConfig) -> Path:
    """Run the check and write its report to ``cfg.output``; returns that path. Without a GPU, ``device=cpu``
    runs the same code at tiny sizes (a dry run); anything else is a :class:`UserError`."""
    device = str(cfg.device)
    if device != "cpu" and not torch.cuda.is_available():
        raise UserError("no CUDA GPU on this machine; device=cpu runs the CPU-side dry run at tiny sizes")
    device = "cuda" if device == "auto" else device
    if device == "cpu":
        machine = (
            f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads (dry run)"
        )
    else:
        machine = f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    tests = "not run (tests=false)"
    if cfg.tests:
        if not (REPO / "tests").is_dir():
            raise UserError("tests=true needs the source checkout's tests/ folder; tests=false skips them")
        status = run_cuda_tests(REPO)
        tests = "passed" if status == 0 else f"FAILED (pytest exit status {status})"
        log.info("pytest -m cuda: %s", tests)
    sections = plan(device, quick=device == "cpu", compile=bool(cfg.compile), repeats=int(cfg.repeats))
    text = report(machine, command_line("edaformer-gpu-check"), tests, run_sections(sections, log=log.info))
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
