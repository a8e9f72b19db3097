"""Input-loss estimate for the node's diagnostics: camera frames missing from gaps in the image stamps.

Plain Python (no ROS import). Frames that the transport loses (e.g. a best-effort subscription
whose large samples do not all arrive) or that the depth-1 subscription queue replaces before
the executor takes them never reach the node's callback, so no counter inside the node sees
them. The camera's stamps do: with a camera period ``T``, an interval of ``k * T`` between two
received stamps means ``k - 1`` frames in between did not arrive.

The period ``T`` is ``1 / camera_rate_hz`` when the rate is given, else estimated as the 10th
percentile of the recent stamp intervals (robust to jitter and to the gaps themselves, as long
as some consecutive frames arrive). A stream that arrives uniformly thinned (say every second
frame, always) looks like a slower camera: only a given ``camera_rate_hz`` reveals that loss.

Intervals longer than :data:`PAUSE_PERIODS` periods count as a pause of the stream (camera
stopped, node inactive, bag looped), not as loss. Stamps that do not increase (repeated, out of
order, or all zero from a driver that does not stamp) are counted and skipped.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

PAUSE_PERIODS = 50  # an interval of more camera periods than this is a pause, not loss
MIN_INTERVALS = 5  # intervals needed before the period is estimated from the stamps
ESTIMATE_PERCENTILE = 10.0


@dataclass(frozen=True)
class InputLoss:
    """What the diagnostics report about input loss."""

    missing_total: int  # estimated frames missing since the monitor started
    recent_received: int  # received frames (intervals) in the recent window
    recent_missing: int  # estimated missing frames in the same window
    period_s: float  # camera period in use (0 = not known yet)
    period_source: str  # "camera_rate_hz", "stamps" or "unknown"
    stamps_not_increasing: int  # repeated / out-of-order / zero stamps skipped
    pauses: int  # intervals longer than PAUSE_PERIODS periods

    @property
    def recent_loss_ratio(self) -> float:
        """Missing / (received + missing) over the recent window (0 when nothing is known)."""
        total = self.recent_received + self.recent_missing
        return self.recent_missing / total if total else 0.0


class StampGapMonitor:
    """Feed every received image's stamp to :meth:`add`; read :meth:`snapshot` (thread-safe)."""

    def __init__(self, window: int = 100) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._last_ns: int | None = None
            self._intervals: deque[int] = deque(maxlen=self._window)  # ns, for the period estimate
            self._recent: deque[int] = deque(maxlen=self._window)  # missing frames per accounted interval
            self._unaccounted: list[int] = []  # intervals seen before the period was known
            self._missing_total = 0
            self._not_increasing = 0
            self._pauses = 0
            self._period_ns = 0.0
            self._source = "unknown"

    def break_stream(self) -> None:
        """Forget the last stamp (keep the counts): the next interval is not a gap (e.g. after inactivity)."""
        with self._lock:
            self._last_ns = None

    def add(self, stamp_ns: int, camera_rate_hz: float = 0.0) -> None:
        """One received image's stamp; ``camera_rate_hz`` > 0 fixes the camera period."""
        with self._lock:
            last, self._last_ns = self._last_ns, stamp_ns if self._last_ns is None else max(self._last_ns, stamp_ns)
            if last is None:
                return
            if stamp_ns <= last:
                self._not_increasing += 1
                return
            interval = stamp_ns - last
            self._intervals.append(interval)
            self._update_period(camera_rate_hz)
            if self._period_ns <= 0:
                self._unaccounted.append(interval)
                return
            for pending in self._unaccounted:
                self._account(pending)
            self._unaccounted.clear()
            self._account(interval)

    def _update_period(self, camera_rate_hz: float) -> None:
        if camera_rate_hz > 0:
            self._period_ns, self._source = 1e9 / camera_rate_hz, "camera_rate_hz"
        elif len(self._intervals) >= MIN_INTERVALS:
            self._period_ns = float(np.percentile(np.asarray(self._intervals), ESTIMATE_PERCENTILE))
            self._source = "stamps"
        else:
            self._period_ns, self._source = 0.0, "unknown"

    def _account(self, interval_ns: int) -> None:
        periods = interval_ns / self._period_ns
        if periods > PAUSE_PERIODS:
            self._pauses += 1
            return
        missing = max(0, int(round(periods)) - 1)
        self._missing_total += missing
        self._recent.append(missing)

    def snapshot(self) -> InputLoss:
        with self._lock:
            return InputLoss(
                missing_total=self._missing_total, recent_received=len(self._recent),
                recent_missing=int(sum(self._recent)), period_s=self._period_ns / 1e9, period_source=self._source,
                stamps_not_increasing=self._not_increasing, pauses=self._pauses,
            )


def loss_fields(loss: InputLoss) -> dict[str, str]:
    """The diagnostics key/values of ``loss``."""
    return {
        "frames_missing_estimated": str(loss.missing_total),
        "input_loss_recent": f"{loss.recent_loss_ratio:.3f}",
        "camera_period_ms": f"{loss.period_s * 1e3:.2f}" if loss.period_s > 0 else "unknown",
        "camera_period_from": loss.period_source,
        "stamps_not_increasing": str(loss.stamps_not_increasing),
        "stream_pauses": str(loss.pauses),
    }


def loss_warning(loss: InputLoss, threshold: float) -> str | None:
    """The WARN message when the recent loss exceeds ``threshold`` (a fraction), else None."""
    ratio = loss.recent_loss_ratio
    if loss.recent_missing == 0 or ratio <= threshold:
        return None
    return (f"input loss {ratio:.0%}: about {loss.recent_missing} of the last "
            f"{loss.recent_received + loss.recent_missing} camera frames never arrived (gaps in the image stamps, "
            f"camera period {loss.period_s * 1e3:.1f} ms from {loss.period_source}; input_loss_warn {threshold:g})")
