"""Reference follow controller: a ``TrackedTarget``-like observation in, body-frame velocity out.

ROS-free. The caller feeds :meth:`FollowController.update` with the newest target observation
(or ``None`` before the first one) and the current time, at every control tick; the result is a
:class:`VelocityCommand` in the vehicle body frame (REP-103: x forward, y left, z up, yaw rate
about +z). Axis mapping and units: :class:`~allinone_ros.control.config.FollowConfig`.

Rules, in order:

1. Non-finite or out-of-range numbers in the observation or the time raise
   :class:`ControlInputError` naming them (nothing is clamped silently).
2. No observation, or one whose stamp is older than ``max_age`` (or more than ``max_future``
   ahead of ``now``): zero command (mode ``stale``).
3. State other than TRACKING and LOST (IDLE, WAITING_FOR_BOX, GROUNDING): zero (mode ``idle``).
4. LOST: zero at once (mode ``hold``, always on the first LOST message); after ``search_after``
   s of LOST (measured on message stamps), a yaw search at ``search_yaw_rate`` towards the side the target was last seen
   (mode ``search``), ramped by ``max_yaw_accel``.
5. TRACKING: PI control of the offsets with a dead-band and P control of the box size, then the
   acceleration limits (relative to the previous command) and the speed limits.

A zero command (rules 2-4) is not rate-limited: it means "hold", which the autopilot executes
with its own braking. Every command, zero or not, is within the speed limits; every non-zero
command differs from the previous one by at most ``max_accel * dt`` per axis group (``dt`` =
time since the previous update, at most ``max_age``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..lifecycle.states import TargetState  # torch-free: the lifecycle package loads its machine lazily
from .config import FollowConfig


class ControlInputError(ValueError):
    """An observation or time the controller cannot use (non-finite, negative size, bad state)."""


@dataclass(frozen=True)
class TargetObservation:
    """What the controller reads from one ``TrackedTarget`` message.

    ``box_xywh`` in pixels of the ``image_width`` x ``image_height`` input image (may be None or
    zero-sized outside TRACKING); ``stamp`` in seconds (the input image's header stamp).
    """

    state: int
    box_xywh: tuple[float, float, float, float] | None
    image_width: int
    image_height: int
    stamp: float

    def offsets(self) -> tuple[float, float]:
        """Box centre relative to the image centre, as ``TrackedTarget.offset_x/offset_y``."""
        assert self.box_xywh is not None
        x, y, w, h = self.box_xywh
        half_w, half_h = self.image_width / 2.0, self.image_height / 2.0
        return (x + w / 2.0 - half_w) / half_w, (y + h / 2.0 - half_h) / half_h

    def box_size(self) -> float:
        """sqrt(box area / image area): 1 = the box covers the image."""
        assert self.box_xywh is not None
        return math.sqrt(max(self.box_xywh[2] * self.box_xywh[3], 0.0) / (self.image_width * self.image_height))


@dataclass(frozen=True)
class VelocityCommand:
    """Body-frame setpoint (m/s, m/s, m/s, rad/s) with the rule that produced it."""

    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0
    yaw_rate: float = 0.0
    mode: str = "stale"  # stale | idle | hold | search | track

    @property
    def is_zero(self) -> bool:
        return self.vx == 0.0 and self.vy == 0.0 and self.vz == 0.0 and self.yaw_rate == 0.0


def validate_observation(obs: TargetObservation) -> None:
    """Raise :class:`ControlInputError` naming every unusable field of ``obs``."""
    problems = []
    try:
        TargetState(obs.state)
    except ValueError:
        problems.append(f"state {obs.state!r} is not one of {[int(s) for s in TargetState]}")
    if not math.isfinite(obs.stamp):
        problems.append(f"stamp {obs.stamp} is not finite")
    if obs.image_width <= 0 or obs.image_height <= 0:
        problems.append(f"image size {obs.image_width}x{obs.image_height} is not positive")
    if obs.box_xywh is not None:
        if len(obs.box_xywh) != 4 or not all(math.isfinite(v) for v in obs.box_xywh):
            problems.append(f"box_xywh {tuple(obs.box_xywh)} must be 4 finite numbers")
        elif obs.box_xywh[2] < 0 or obs.box_xywh[3] < 0:
            problems.append(f"box_xywh {tuple(obs.box_xywh)} has a negative width or height")
    elif obs.state == TargetState.TRACKING:
        problems.append("state TRACKING needs a box_xywh")
    if obs.state == TargetState.TRACKING and not problems and (obs.box_xywh[2] <= 0 or obs.box_xywh[3] <= 0):
        problems.append(f"state TRACKING with an empty box_xywh {tuple(obs.box_xywh)}")
    if problems:
        raise ControlInputError("target observation refused: " + "; ".join(problems))


def dead_band(value: float, width: float) -> float:
    """Zero within +-width, continuous outside (shifted towards zero by ``width``)."""
    if abs(value) <= width:
        return 0.0
    return math.copysign(abs(value) - width, value)


def _limit_norm(vx: float, vy: float, limit: float) -> tuple[float, float]:
    norm = math.hypot(vx, vy)
    if norm <= limit:
        return vx, vy
    scale = limit / norm
    return vx * scale, vy * scale


def _clamp(value: float, limit: float) -> float:
    return min(max(value, -limit), limit)


class FollowController:
    """Stateful controller (integrators, previous command, LOST timer); one per vehicle."""

    def __init__(self, config: FollowConfig | None = None) -> None:
        self.config = config or FollowConfig()
        self.reset()

    def reset(self) -> None:
        self._integral = [0.0, 0.0]
        self._previous = VelocityCommand()
        self._previous_time: float | None = None
        self._lost_since: float | None = None
        self._last_offset_x = 0.0

    def update(self, obs: TargetObservation | None, now: float) -> VelocityCommand:
        """The command for time ``now`` (s, same clock as the stamps) given the newest observation."""
        if not math.isfinite(now):
            raise ControlInputError(f"time now={now} is not finite")
        if obs is not None:
            validate_observation(obs)
        dt = self._tick(now)
        cfg = self.config
        if obs is None or now - obs.stamp > cfg.max_age or obs.stamp - now > cfg.max_future:
            return self._hold("stale")
        state = TargetState(obs.state)
        if state == TargetState.LOST:
            return self._lost(obs, dt)
        if state != TargetState.TRACKING:
            return self._hold("idle")
        self._lost_since = None
        return self._track(obs, dt)

    # -- internals ------------------------------------------------------------------------------
    def _tick(self, now: float) -> float:
        previous, self._previous_time = self._previous_time, now
        if previous is None:
            return 0.0
        return min(max(now - previous, 0.0), self.config.max_age)

    def _hold(self, mode: str, keep_lost_timer: bool = False) -> VelocityCommand:
        self._integral = [0.0, 0.0]
        if not keep_lost_timer:
            self._lost_since = None
        self._previous = VelocityCommand(mode=mode)
        return self._previous

    def _lost(self, obs: TargetObservation, dt: float) -> VelocityCommand:
        cfg = self.config
        first = self._lost_since is None
        if first:
            self._lost_since = obs.stamp
        if first or not cfg.searches or obs.stamp - self._lost_since < cfg.search_after:
            return self._hold("hold", keep_lost_timer=True)
        # Turn towards the side last seen: right (offset_x > 0) is a negative yaw rate.
        direction = -1.0 if self._last_offset_x > 0 else 1.0
        yaw = self._ramp(self._previous.yaw_rate, direction * cfg.search_yaw_rate, cfg.max_yaw_accel * dt)
        self._integral = [0.0, 0.0]
        self._previous = VelocityCommand(yaw_rate=_clamp(yaw, cfg.max_yaw_rate), mode="search")
        return self._previous

    def _track(self, obs: TargetObservation, dt: float) -> VelocityCommand:
        cfg = self.config
        off_x, off_y = obs.offsets()
        self._last_offset_x = off_x
        ex, ey = dead_band(off_x, cfg.dead_band), dead_band(off_y, cfg.dead_band)
        lim = cfg.integral_limit
        self._integral = [_clamp(self._integral[0] + ex * dt, lim), _clamp(self._integral[1] + ey * dt, lim)]
        ux = cfg.kp_x * ex + cfg.ki_x * self._integral[0]
        uy = cfg.kp_y * ey + cfg.ki_y * self._integral[1]
        us = 0.0
        if cfg.desired_box_size > 0:
            us = cfg.kp_size * dead_band(cfg.desired_box_size - obs.box_size(), cfg.dead_band)
        if cfg.camera == "down":  # image right = body -y, image down = body -x, too small = descend
            vx, vy, vz, yaw = -uy, -ux, -us, 0.0
        else:  # forward: right = turn right (negative yaw), down = descend, too small = approach
            vx, vy, vz, yaw = us, 0.0, -uy, -ux
        return self._limited(vx, vy, vz, yaw, dt)

    @staticmethod
    def _ramp(previous: float, wanted: float, step: float) -> float:
        return previous + _clamp(wanted - previous, step)

    def _limited(self, vx: float, vy: float, vz: float, yaw: float, dt: float) -> VelocityCommand:
        cfg, prev = self.config, self._previous
        # Acceleration limits relative to the previous command, then speed limits (a projection
        # onto a convex set, so it never undoes the acceleration limit).
        dvx, dvy = _limit_norm(vx - prev.vx, vy - prev.vy, cfg.max_accel_xy * dt)
        vx, vy = _limit_norm(prev.vx + dvx, prev.vy + dvy, cfg.max_speed_xy)
        vz = _clamp(self._ramp(prev.vz, vz, cfg.max_accel_z * dt), cfg.max_speed_z)
        yaw = _clamp(self._ramp(prev.yaw_rate, yaw, cfg.max_yaw_accel * dt), cfg.max_yaw_rate)
        self._previous = VelocityCommand(vx, vy, vz, yaw, mode="track")
        return self._previous
