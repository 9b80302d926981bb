"""The SIGTERM / SIGINT handler of a training run never outlives the run: a process that inherits it, or a handler
re-installed after the run (Lightning's teardown after an exception restores the handler it found: ours), acts as
the process did before the run."""

from __future__ import annotations

import os
import signal
import time

from edaformer.lit import StopOnSignal


def test_a_handler_left_after_the_run_acts_as_before():
    before = signal.getsignal(signal.SIGTERM)
    stop = StopOnSignal()
    stop._install()
    stop._restore()
    assert signal.getsignal(signal.SIGTERM) == before
    signal.signal(signal.SIGTERM, stop._handle)  # what Lightning's teardown does when fit raised
    try:
        pid = os.fork()
        if pid == 0:  # e.g. a multiprocessing.Pool worker that Pool.terminate() ends with SIGTERM
            signal.signal(signal.SIGTERM, stop._handle)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
        assert stop.received is None  # the finished run took no note of it
    finally:
        signal.signal(signal.SIGTERM, before)
