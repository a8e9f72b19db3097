"""Input-loss estimate from camera stamp gaps (allinone_ros.ros.input_monitor), fed with stamp sequences made here."""
from __future__ import annotations

import numpy as np

from allinone_ros.ros.input_monitor import PAUSE_PERIODS, StampGapMonitor, loss_fields, loss_warning

PERIOD_NS = 33_333_333  # 30 Hz
START_NS = 1_700_000_000_000_000_000


def feed(monitor: StampGapMonitor, indices, rate_hz: float = 0.0, jitter_ns: int = 0) -> None:
    rng = np.random.default_rng(0)
    for i in indices:
        jitter = int(rng.integers(-jitter_ns, jitter_ns + 1)) if jitter_ns else 0
        monitor.add(START_NS + i * PERIOD_NS + jitter, rate_hz)


def test_complete_stream_has_no_loss_and_no_warning():
    monitor = StampGapMonitor()
    feed(monitor, range(200), jitter_ns=3_000_000)
    loss = monitor.snapshot()
    assert loss.missing_total == 0 and loss.recent_missing == 0
    assert abs(loss.period_s - PERIOD_NS / 1e9) <= 0.006 and loss.period_source == "stamps"  # within the interval jitter
    assert loss_warning(loss, 0.05) is None


def test_every_second_frame_missing_is_found_with_the_camera_rate():
    monitor = StampGapMonitor()
    feed(monitor, range(0, 200, 2), rate_hz=30.0)  # 100 frames received of 199 made
    loss = monitor.snapshot()
    assert loss.missing_total == 99
    assert loss.recent_received == 99 and loss.recent_missing == 99  # window of 100 accounted intervals
    assert loss.recent_loss_ratio == 0.5
    warning = loss_warning(loss, 0.05)
    assert warning is not None and warning.startswith("input loss 50%: about 99 of the last 198 camera frames")
    assert loss_fields(loss)["frames_missing_estimated"] == "99"
    assert loss_fields(loss)["camera_period_from"] == "camera_rate_hz"


def test_every_second_frame_missing_looks_like_a_slower_camera_without_the_rate():
    monitor = StampGapMonitor()
    feed(monitor, range(0, 200, 2))
    loss = monitor.snapshot()
    assert loss.missing_total == 0 and abs(loss.period_s - 2 * PERIOD_NS / 1e9) < 1e-6


def test_random_loss_is_estimated_from_the_stamps_alone():
    rng = np.random.default_rng(3)
    kept = [i for i in range(400) if i == 0 or rng.random() > 0.3]  # ~30 % lost, in random places
    monitor = StampGapMonitor(window=1000)
    feed(monitor, kept, jitter_ns=2_000_000)
    loss = monitor.snapshot()
    truly_missing = kept[-1] + 1 - len(kept)
    assert loss.missing_total == truly_missing  # intervals before the estimate was ready are accounted too
    assert loss_warning(loss, 0.05) is not None
    assert loss_warning(loss, 0.9) is None


def test_pauses_repeats_and_zero_stamps_are_not_loss():
    monitor = StampGapMonitor()
    feed(monitor, range(20), rate_hz=30.0)
    feed(monitor, range(20 + PAUSE_PERIODS + 10, 40 + PAUSE_PERIODS + 10), rate_hz=30.0)  # camera stopped a while
    monitor.add(START_NS, 30.0)  # an old stamp again
    loss = monitor.snapshot()
    assert loss.missing_total == 0 and loss.pauses == 1 and loss.stamps_not_increasing == 1
    zero = StampGapMonitor()
    for _ in range(10):
        zero.add(0)
    assert zero.snapshot().stamps_not_increasing == 9 and zero.snapshot().period_source == "unknown"


def test_break_stream_keeps_counts_but_ignores_the_next_gap():
    monitor = StampGapMonitor()
    feed(monitor, [0, 2, 4], rate_hz=30.0)
    monitor.break_stream()
    feed(monitor, [30, 31], rate_hz=30.0)
    assert monitor.snapshot().missing_total == 2
