"""Remaining time of a run of similar tasks (settings to score, images of a setting), from the mean time of those
done so far: ``3/20 settings, 0:01:12 elapsed, ETA 0:06:48``."""

from __future__ import annotations

import datetime
import time

__all__ = ["Eta"]


class Eta:
    """``total`` tasks started now; :meth:`update` with how many are done returns the progress text. Times are the
    mean of the tasks done in this process (a resumed search counts only its own)."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.first = total, done
        self.start = time.monotonic()

    def update(self, done: int) -> str:
        elapsed = time.monotonic() - self.start
        text = f"{done}/{self.total}, {_clock(elapsed)} elapsed"
        finished_here = done - self.first
        if finished_here > 0 and done < self.total:
            text += f", ETA {_clock(elapsed / finished_here * (self.total - done))}"
        return text


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))
