"""The GPU check (``edaformer-gpu-check``, ``make gpu-check``): the tests marked ``cuda``, then EDAFormer-T/B against
SegFormer-B0/B2 at 512² and 1024×2048, batch 1 and 8, float32 / bfloat16 / compiled, inference and training
throughput with peak memory, written as one markdown report (``docs/benchmarks_gpu.md``).

Every table is one interleaved :func:`~edaformer.tools.benchmark.run_benchmark` run; the SegFormer baselines run
float32 eager, so the ``×`` columns compare each of our runtime options with what a SegFormer user runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..data.benchmarks import benchmark
from .benchmark import BenchmarkConfig, Result, results_table, run_benchmark

PAIRS = (("edaformer_t", "segformer-b0"), ("edaformer_b", "segformer-b2"))


@dataclass(frozen=True)
class Section:
    """One table of the report: a title and the interleaved run that fills it."""

    title: str
    config: BenchmarkConfig


def plan(device: str, quick: bool = False, compile: bool = True, repeats: int = 10) -> list[Section]:
    """The report's runs. ``quick`` (the CPU dry run): 64×64 and 64×128 inputs, batch 1 and 2, 2 timings."""
    sizes = [(64, 64), (64, 128)] if quick else [(512, 512), (1024, 2048)]
    batches = [1, 2] if quick else [1, 8]
    repeats, warmup = (2, 1) if quick else (repeats, 3)
    base = BenchmarkConfig(device=device, repeats=repeats, warmup=warmup, memory_formats=("contiguous",))
    sections = []
    for ours, theirs in PAIRS:
        flags = ["", ":bf16"] + ([":compile", ":compile+bf16"] if compile else [])
        models = [ours + f for f in flags]
        for size in sizes:
            for batch in batches:
                config = replace(
                    base,
                    models=models,
                    isr=("train", "paper"),
                    compare=(theirs,),
                    sizes=(size,),
                    batches=(batch,),
                    num_classes=benchmark("ade20k" if size[0] == size[1] else "cityscapes").num_classes,
                )
                sections.append(Section(f"{ours} vs {theirs}, {size[0]}×{size[1]}, batch {batch}", config))
        train = replace(
            base,
            models=(ours,),
            compare=(theirs,),
            sizes=(sizes[0],),
            batches=(batches[-1],),
            precisions=("fp32", "bf16"),
            train=True,
        )
        sections.append(
            Section(
                f"training step {ours} vs {theirs}, {sizes[0][0]}×{sizes[0][1]}, batch {batches[-1]}", train
            )
        )
    return sections


def run_cuda_tests(repo: Path, extra: list[str] | None = None) -> int:
    """``pytest -m cuda`` on the checkout's ``tests/`` (with the inductor test enabled); its exit status."""
    import os

    env = {**os.environ, "EDAFORMER_TEST_INDUCTOR": "1"}
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", str(repo / "tests"), *(extra or [])]
    return subprocess.run(cmd, cwd=repo, env=env).returncode


def run_sections(
    sections: list[Section], log: Callable[[str], None] = print
) -> list[tuple[Section, str, float]]:
    """Each section's markdown table and the seconds it took."""
    out = []
    for section in sections:
        start = time.perf_counter()
        log(f"== {section.title}")
        results: list[Result] = run_benchmark(section.config, log=log)
        table = results_table(results, baselines=list(section.config.compare))
        out.append((section, table, time.perf_counter() - start))
    return out


def report(machine: str, command: str, tests: str, tables: list[tuple[Section, str, float]]) -> str:
    """The markdown report: machine, command, test outcome, then one table per section."""
    lines = [
        "# GPU benchmarks",
        "",
        f"Machine: {machine}  ",
        f"Command: `{command}`  ",
        f"Tests marked `cuda`: {tests}",
        "",
        "SegFormer baselines run float32 eager (random weights, `transformers`); the `×` column is the baseline's "
        "median over the row's. `bf16` = bfloat16 weights (inference) or autocast mixed precision (training "
        "steps); `compile` = torch.compile (inductor).",
    ]
    for section, table, seconds in tables:
        lines += ["", f"## {section.title}", "", f"({seconds:.0f} s)", "", table]
    return "\n".join(lines) + "\n"
