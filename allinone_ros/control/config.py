"""Typed, frozen configuration of the follow controller (see :mod:`allinone_ros.control.follow`).

Units: velocities in m/s, yaw rates in rad/s, accelerations in m/s^2 (rad/s^2 for yaw), times in
seconds, image offsets and box sizes normalised (offsets as in ``TrackedTarget``: [-1, 1] from the
image centre, + right / + down; box size = sqrt(box area / image area), in [0, 1]).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

CameraMount = Literal["down", "forward"]
CAMERA_MOUNTS: tuple[str, ...] = ("down", "forward")


@dataclass(frozen=True)
class FollowConfig:
    """Gains, limits and timing of the follow controller.

    ``camera`` says how the image axes map to the body frame (REP-103: x forward, y left, z up,
    yaw rate about +z, counter-clockwise seen from above):

    * ``down`` (nadir camera, image top = vehicle front): image right = body -y, image down =
      body -x. offset_x drives vy, offset_y drives vx, box size drives vz (altitude), yaw stays 0.
    * ``forward`` (camera looking along body +x): offset_x drives the yaw rate (target right ->
      turn right = negative yaw rate), offset_y drives vz (target below -> descend), box size
      drives vx (too small -> approach), vy stays 0.

    Gains map a normalised error to a velocity: ``kp_x`` / ``ki_x`` act on offset_x, ``kp_y`` /
    ``ki_y`` on offset_y (m/s or rad/s per unit offset; per unit offset-second for ``ki_*``),
    ``kp_size`` on (desired_box_size - box size) (m/s per unit size). ``desired_box_size`` 0
    switches distance keeping off.

    The default gains suit the nadir camera of the simulator (75 degrees horizontal field of
    view, 45 m above ground: half the image width is ~35 m, half its height ~19 m), a bandwidth
    of about 1.1 rad/s per axis: ``kp ~ bandwidth * (half the view's extent in metres)``. Scale
    them with altitude and field of view; for ``forward`` give ``kp_x`` in rad/s per unit offset
    (e.g. 1.0) and ``ki_x`` to match.
    """

    camera: str = "down"
    kp_x: float = 40.0
    kp_y: float = 22.0
    ki_x: float = 15.0
    ki_y: float = 8.0
    integral_limit: float = 0.5  # |integral of offset| cap, unit offset * s (anti-windup)
    kp_size: float = 20.0
    desired_box_size: float = 0.0
    dead_band: float = 0.02  # offsets (and the size error) within +-dead_band count as zero
    max_speed_xy: float = 10.0  # norm of (vx, vy)
    max_speed_z: float = 2.0
    max_yaw_rate: float = 0.8
    max_accel_xy: float = 6.0  # norm of the change of (vx, vy) per second
    max_accel_z: float = 2.0
    max_yaw_accel: float = 1.5
    max_age: float = 0.5  # a target message older than this (now - stamp) gives a zero command
    max_future: float = 0.1  # a stamp more than this ahead of now is refused as stale too
    search_after: float = 2.0  # seconds LOST before the yaw search starts; < 0 = never search
    search_yaw_rate: float = 0.3  # |yaw rate| of the search, towards the side last seen

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "camera":
                if value not in CAMERA_MOUNTS:
                    problems.append(f"camera must be one of {', '.join(CAMERA_MOUNTS)}, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{f.name} must be a number, got {value!r}")
            elif not math.isfinite(value):
                problems.append(f"{f.name} must be finite, got {value}")
            elif f.name != "search_after" and value < 0:
                problems.append(f"{f.name} must be >= 0, got {value}")
        for name in ("max_speed_xy", "max_speed_z", "max_yaw_rate", "max_accel_xy", "max_accel_z", "max_yaw_accel",
                     "max_age"):
            if not problems and getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        if not problems and self.desired_box_size > 1:
            problems.append(f"desired_box_size must be in [0, 1] (0 = off), got {self.desired_box_size}")
        if not problems and self.dead_band >= 1:
            problems.append(f"dead_band must be in [0, 1), got {self.dead_band}")
        if not problems and self.search_yaw_rate > self.max_yaw_rate:
            problems.append(f"search_yaw_rate {self.search_yaw_rate} exceeds max_yaw_rate {self.max_yaw_rate}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def searches(self) -> bool:
        return self.search_after >= 0 and self.search_yaw_rate > 0


def follow_config_from_dict(data: dict[str, Any]) -> FollowConfig:
    """Strict mapping (YAML) -> :class:`FollowConfig`; unknown keys are an error naming them."""
    from ..config_io import from_dict

    return from_dict(FollowConfig, data, where="follow")
