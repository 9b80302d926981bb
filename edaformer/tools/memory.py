"""Peak memory of a block of calls, and the allocator setting that makes CPU timings of large tensors fair.

On CUDA the peak is ``torch.cuda.max_memory_allocated`` over the block; on CPU it is the process's peak resident set
(``VmHWM`` of ``/proc/self/status``, reset through ``/proc/self/clear_refs`` before the block), reported both as the
absolute peak and as the rise over the resident set just before the block (what the calls themselves needed:
activations, workspace).
"""

from __future__ import annotations

import contextlib
import ctypes
import re
from collections.abc import Iterator
from dataclasses import dataclass

import torch

_STATUS = "/proc/self/status"


def cache_large_allocations(limit_bytes: int = 1 << 30) -> bool:
    """Ask glibc's malloc to keep freed blocks up to ``limit_bytes`` in the heap instead of unmapping them.

    By default every tensor above ~32 MB is a fresh ``mmap`` whose pages are zero-filled by the kernel on first
    touch; at 512×512 with 150 classes the full-resolution logits alone are 157 MB, and page faults take half of
    their upsampling time. Reusing freed memory removes that cost for every model in the process alike (the
    resident set then stays at its high-water mark). Returns ``False`` where there is no glibc (macOS, musl).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_mmap_threshold, ctypes.c_int(min(limit_bytes, 2**31 - 1)))
    ok &= libc.mallopt(m_trim_threshold, ctypes.c_int(min(2 * limit_bytes, 2**31 - 1)))
    return bool(ok)


def _status_kib(field_name: str) -> int | None:
    try:
        with open(_STATUS) as f:
            match = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def current_rss() -> int | None:
    """Resident set size of this process in bytes (Linux), else ``None``."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (``VmHWM``) of this process; ``False`` if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int | None:
    """High-water mark of the resident set in bytes since start or the last :func:`reset_peak_rss`."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss cannot be reset, so it is a process-lifetime peak
        import resource
        import sys

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024
    return kib * 1024


@dataclass
class PeakMemory:
    """Peak memory of the calls made inside :func:`track_peak_memory`, in bytes.

    ``peak`` is the absolute peak (CUDA: allocated bytes; CPU: resident set), ``before`` the value on entry and
    ``rise = peak - before`` what the tracked calls added. ``kind`` is ``"cuda"`` or ``"rss"``; ``exact`` is
    ``False`` when the CPU peak could not be reset (then ``peak`` may stem from earlier work).
    """

    kind: str = "rss"
    before: int = 0
    peak: int = 0
    exact: bool = True

    @property
    def rise(self) -> int:
        return max(0, self.peak - self.before)


@contextlib.contextmanager
def track_peak_memory(device: torch.device) -> Iterator[PeakMemory]:
    """Context manager measuring the peak memory of its body on ``device`` (see :class:`PeakMemory`)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = PeakMemory("cuda", before=torch.cuda.memory_allocated(device))
        yield result
        torch.cuda.synchronize(device)
        result.peak = torch.cuda.max_memory_allocated(device)
        return
    exact = reset_peak_rss()
    result = PeakMemory("rss", before=current_rss() or 0, exact=exact)
    yield result
    result.peak = peak_rss() or 0
