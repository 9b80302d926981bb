"""The ISR search's progress lines: settings or images done, time elapsed and left."""

from __future__ import annotations

from edaformer.search.eta import Eta


def test_eta_from_the_tasks_done_in_this_process():
    eta = Eta(20, done=4)  # a resumed search: 4 settings scored before
    eta.start -= 30.0  # 30 s spent on the next 2
    assert eta.update(6) == "6/20, 0:00:30 elapsed, ETA 0:03:30"  # 14 left at 15 s each
    assert eta.update(20) == "20/20, 0:00:30 elapsed"
    assert Eta(5).update(0) == "0/5, 0:00:00 elapsed"  # nothing done yet: no estimate
