"""Counters for the node's ``/diagnostics`` output: rates, latency percentiles, drops.

:class:`NodeStats` is plain Python and thread-safe (the image callback, the worker and the
diagnostics timer touch it from different threads). :func:`diagnostic_status` builds the
``diagnostic_msgs/DiagnosticStatus`` (imported lazily).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


class RateMeter:
    """Events per second over a sliding window (not thread-safe; guarded by :class:`NodeStats`)."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = now - self._times[0]
        # n events in the window: (n - 1) intervals between the first and the last, but the window
        # reaches `now`; using `span` up to now makes the rate decay when the stream stops.
        return (len(self._times) - 1) / max(span, 1e-9)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


@dataclass(frozen=True)
class StatsSnapshot:
    received: int
    processed: int
    dropped: int
    invalid: int
    input_rate_hz: float
    processed_rate_hz: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    seconds_since_input: float  # inf if nothing arrived yet


class NodeStats:
    """Thread-safe counters. ``dropped`` is owned by the worker's mailbox and passed in on snapshot."""

    def __init__(self, window_s: float = 3.0, latency_samples: int = 200) -> None:
        self._lock = threading.Lock()
        self._input = RateMeter(window_s)
        self._processed_rate = RateMeter(window_s)
        self._latency: deque[float] = deque(maxlen=latency_samples)
        self.received = 0
        self.processed = 0
        self.invalid = 0
        self._last_input = float("-inf")

    def frame_received(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self.received += 1
            self._last_input = now
            self._input.tick(now)

    def frame_processed(self, latency_ms: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self.processed += 1
            self._processed_rate.tick(now)
            self._latency.append(latency_ms)

    def frame_invalid(self) -> None:
        with self._lock:
            self.invalid += 1

    def snapshot(self, dropped: int, now: float | None = None) -> StatsSnapshot:
        now = time.monotonic() if now is None else now
        with self._lock:
            lat = np.asarray(self._latency, dtype=np.float64)
            p50, p95, pmax = (float(np.percentile(lat, 50)), float(np.percentile(lat, 95)), float(lat.max())) \
                if lat.size else (0.0, 0.0, 0.0)
            return StatsSnapshot(
                received=self.received, processed=self.processed, dropped=dropped, invalid=self.invalid,
                input_rate_hz=self._input.rate(now), processed_rate_hz=self._processed_rate.rate(now),
                latency_p50_ms=p50, latency_p95_ms=p95, latency_max_ms=pmax,
                seconds_since_input=now - self._last_input,
            )


def diagnostic_status(
    name: str, hardware_id: str, snapshot: StatsSnapshot, fields: dict[str, str], lifecycle_state: str,
    track_state: str, stale_after_s: float = 2.0, input_warning: str | None = None,
) -> Any:
    """One ``DiagnosticStatus``: OK normally; WARN when inactive, when the input went quiet, when
    ``input_warning`` is given (input loss, see :mod:`~allinone_ros.ros.input_monitor`) or when lost."""
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

    if lifecycle_state != "active":
        level, message = DiagnosticStatus.WARN, f"node is {lifecycle_state}: not processing images"
    elif snapshot.seconds_since_input > stale_after_s:
        level, message = DiagnosticStatus.WARN, "no input images" if snapshot.received == 0 else \
            f"no input image for {snapshot.seconds_since_input:.1f} s"
    elif input_warning:
        level, message = DiagnosticStatus.WARN, input_warning
    elif track_state == "LOST":
        level, message = DiagnosticStatus.WARN, "target lost"
    else:
        level, message = DiagnosticStatus.OK, f"{track_state.lower()}, {snapshot.processed_rate_hz:.1f} Hz"
    values = {
        "lifecycle_state": lifecycle_state,
        "state": track_state,
        "input_rate_hz": f"{snapshot.input_rate_hz:.2f}",
        "processed_rate_hz": f"{snapshot.processed_rate_hz:.2f}",
        "latency_p50_ms": f"{snapshot.latency_p50_ms:.2f}",
        "latency_p95_ms": f"{snapshot.latency_p95_ms:.2f}",
        "latency_max_ms": f"{snapshot.latency_max_ms:.2f}",
        "frames_received": str(snapshot.received),
        "frames_processed": str(snapshot.processed),
        "frames_dropped": str(snapshot.dropped),
        "frames_invalid": str(snapshot.invalid),
        **fields,
    }
    return DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )
