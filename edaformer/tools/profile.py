"""torch.profiler breakdown of forward passes: where the time goes, by operator and, optionally, by input shape.

The tables in docs/benchmarks.md were read from this output (``edaformer-profile``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile

from .timing import synchronize


def profile_calls(
    call: Callable[[], object],
    device: torch.device,
    runs: int = 3,
    warmup: int = 2,
    rows: int = 20,
    by_shape: bool = False,
) -> str:
    """Profile ``runs`` calls of ``call`` (after ``warmup`` untimed ones) and return the report as text.

    The first table lists operators by self time summed over the runs (CPU time, or CUDA time on a GPU). With
    ``by_shape``, the six most expensive operators are broken down by their input shapes, in ms per run.
    """
    for _ in range(warmup):
        call()
    synchronize(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities, record_shapes=by_shape) as prof:
        for _ in range(runs):
            call()
        synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    averages = prof.key_averages()
    lines = [averages.table(sort_by=key, row_limit=rows)]
    if by_shape:
        top = sorted(averages, key=lambda e: -getattr(e, key))[:6]
        shaped = prof.key_averages(group_by_input_shape=True)
        for event in top:
            lines.append(event.key)
            same = sorted((e for e in shaped if e.key == event.key), key=lambda e: -getattr(e, key))[:6]
            for e in same:
                lines.append(
                    f"  {getattr(e, key) / 1e3 / runs:8.2f} ms/run  x{e.count // runs}  {e.input_shapes[:3]}"
                )
    return "\n".join(lines)
