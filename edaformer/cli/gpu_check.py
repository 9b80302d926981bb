"""``edaformer-gpu-check`` (``make gpu-check``): on a CUDA machine, the tests marked ``cuda`` and then the GPU
benchmark tables, written to ``docs/benchmarks_gpu.md`` (:mod:`edaformer.tools.gpu_check`). Without a GPU it says
so (exit 2) unless ``device=cpu`` asks for the CPU dry run of the same code at tiny sizes.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from ..tools.gpu_check import plan, report, run_cuda_tests, run_sections
from .benchmark import command_line
from .utils import CONF_DIR, UserError, as_choice, as_count, as_flag, report_user_errors, run_hydra_main

log = logging.getLogger("edaformer.gpu_check")
REPO = Path(__file__).resolve().parents[2]


@hydra.main(config_path=str(CONF_DIR), config_name="gpu_check", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    device = as_choice(cfg.device, ("auto", "cuda", "cpu"), "device")
    compile_ = as_flag(cfg.compile, "compile")
    run_tests = as_flag(cfg.tests, "tests")
    repeats = as_count(cfg.repeats, "repeats")
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
    if run_tests:
        if not (REPO / "tests").is_dir():
            raise UserError("tests=true needs the source checkout's tests/ folder; tests=false skips them")
        status = run_cuda_tests(REPO)
        tests = "passed" if status == 0 else f"FAILED (pytest exit status {status})"
        print(f"pytest -m cuda: {tests}")
    sections = plan(device, quick=device == "cpu", compile=compile_, repeats=repeats)
    text = report(
        machine,
        command_line().replace("edaformer-benchmark", "edaformer-gpu-check"),
        tests,
        run_sections(sections, log=log.info),
    )
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"wrote {out}")


def main() -> int:
    """Entry point of ``edaformer-gpu-check`` (and ``scripts/gpu_check.py``)."""
    return run_hydra_main(_main)
