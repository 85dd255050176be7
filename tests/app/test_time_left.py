"""The time left shown during a job falls as the job advances (issue 18, item 11).

Seen in the app: during DEC training the estimate grew from 11 s to 17 s left over
32 s, because the features (cached) took 0.6 of the bar in a second and the time
left was extrapolated from the pace since the start.  Simulated time keeps the test fast.
"""

from __future__ import annotations

import math


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_time_left_falls_during_a_slow_stage_after_a_fast_one(qtbot, monkeypatch):
    import app.workers as workers

    clock = _Clock()
    monkeypatch.setattr(workers, "time", clock)
    stage_seconds = 40.0

    def job(progress, should_stop):
        for i in range(1, 11):  # cached features: 0.6 of the bar in one second
            clock.now += 0.1
            progress(0.06 * i, "features")
        for i in range(1, 401):  # DEC: the remaining 0.4 at a steady pace over 40 s
            clock.now += stage_seconds / 400
            progress(0.6 + 0.4 * i / 400, "DEC")

    runner = workers.JobRunner(synchronous=True)
    shown: list[tuple[float, float]] = []
    runner.progress.connect(lambda fraction, _message, eta: shown.append((clock.now, eta)))
    runner.start("cluster", job)
    end = 1.0 + stage_seconds
    steady = [(t, eta) for t, eta in shown if t > 1.0 + 10.0 and t < end - 0.1]
    assert len(steady) > 100
    etas = [eta for _, eta in steady]
    assert not any(math.isnan(e) for e in etas)
    assert all(b <= a + 1e-6 for a, b in zip(etas, etas[1:]))  # never grows while the pace holds
    assert all(abs(eta - (end - t)) <= 0.15 * (end - t) + 0.5 for t, eta in steady)  # and is about right


def test_a_short_stage_between_counted_ones_is_shown_despite_the_throttle(qtbot, monkeypatch):
    """The 50 ms throttle dropped a stage message that arrived soon after a count.

    Counts within a stage are still throttled (the bar is not redrawn 1,000 times), but
    each new stage reaches the status line, so the user sees "Training DEC" even when
    it began 10 ms after the last "features 599/600".
    """
    import app.workers as workers

    clock = _Clock()
    monkeypatch.setattr(workers, "time", clock)

    def job(progress, should_stop):
        for i in range(1, 601):  # 600 counts in 0.6 s: throttled to about 12
            clock.now += 0.001
            progress(0.5 * i / 600, f"features {i}/600")
        clock.now += 0.01
        progress(0.51, "Training DEC")  # a stage 10 ms after a count
        clock.now += 0.01
        progress(0.52, "Assigning clusters")
        clock.now += 0.01
        progress(0.53, "2-D map (tsne)")

    runner = workers.JobRunner(synchronous=True)
    shown: list[str] = []
    runner.progress.connect(lambda _fraction, message, _eta: shown.append(message))
    runner.start("cluster", job)
    counts = [m for m in shown if m.startswith("features")]
    assert 2 <= len(counts) <= 20  # counts stay throttled
    assert shown[-3:] == ["Training DEC", "Assigning clusters", "2-D map (tsne)"]
