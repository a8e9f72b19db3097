"""The simulated drone: pose integrated from delayed body-frame velocity commands, and its camera.

Frames (REP-103): world X east, Y north, Z up; body x forward, y left, z up; ``yaw`` is the
angle from world +X to body +x, counter-clockwise seen from above; a positive yaw rate turns
left. The camera looks straight down (nadir) and is mounted with the image top towards the
vehicle's front, so:

* image right (+u) = body -y (the vehicle's right), image down (+v) = body -x (behind);
* a ground point at body offset (bx, by) metres, seen from altitude h, is at pixel
  ``u = W/2 - f * by / h``, ``v = H/2 - f * bx / h`` (f = focal length in pixels);
* climbing (+z) makes the target smaller, a positive yaw rate turns the image clockwise.

Commands are applied ``latency`` seconds after they are given (a delay line), then the vehicle's
body velocity follows them with a first-order lag (``response_time``); altitude stays within
``[min_altitude, max_altitude]``.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .config import SimConfig

MAX_STEP = 0.005  # s, longest integration step (commands switch on step boundaries)


@dataclass(frozen=True)
class CameraPose:
    x: float  # m, world X (east)
    y: float  # m, world Y (north)
    altitude: float  # m above ground
    yaw: float  # rad, body +x from world +X, counter-clockwise


@dataclass(frozen=True)
class BodyVelocity:
    vx: float = 0.0  # m/s forward
    vy: float = 0.0  # m/s left
    vz: float = 0.0  # m/s up
    yaw_rate: float = 0.0  # rad/s counter-clockwise

    def as_array(self) -> np.ndarray:
        return np.array([self.vx, self.vy, self.vz, self.yaw_rate], dtype=np.float64)


def check_velocity(cmd: BodyVelocity) -> None:
    values = cmd.as_array()
    if not np.all(np.isfinite(values)):
        raise ValueError(f"velocity command {cmd} has a non-finite component")


def world_to_image(pose: CameraPose, points_xy: np.ndarray, config: SimConfig) -> np.ndarray:
    """Project ground points ``(n, 2)`` world metres to ``(n, 2)`` image pixels (u right, v down)."""
    d = np.asarray(points_xy, dtype=np.float64) - (pose.x, pose.y)
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    bx = c * d[:, 0] + s * d[:, 1]
    by = -s * d[:, 0] + c * d[:, 1]
    scale = config.focal_px / pose.altitude
    return np.stack([config.frame_width / 2.0 - scale * by, config.frame_height / 2.0 - scale * bx], axis=1)


class DroneCamera:
    """Vehicle state driven by :meth:`command` and advanced in time by :meth:`advance`."""

    def __init__(self, config: SimConfig, start: CameraPose) -> None:
        self.config = config
        self.time = 0.0
        self.pose = start
        self.velocity = np.zeros(4)  # achieved body velocity (vx, vy, vz, yaw_rate)
        self._active = np.zeros(4)  # the command in effect (after the latency)
        self._pending: deque[tuple[float, np.ndarray]] = deque()

    def command(self, cmd: BodyVelocity, at: float | None = None) -> None:
        """Give a command at time ``at`` (default: now); it acts from ``at + latency``."""
        check_velocity(cmd)
        when = self.time if at is None else at
        if not math.isfinite(when):
            raise ValueError(f"command time {when} is not finite")
        self._pending.append((when + self.config.latency, cmd.as_array()))

    def advance(self, dt: float) -> CameraPose:
        """Move the vehicle forward by ``dt`` seconds and return the new pose."""
        if not (math.isfinite(dt) and dt >= 0):
            raise ValueError(f"dt must be a finite number >= 0, got {dt}")
        steps = max(1, math.ceil(dt / MAX_STEP - 1e-9))
        h = dt / steps
        tau = self.config.response_time
        for _ in range(steps):
            self.time += h
            while self._pending and self._pending[0][0] <= self.time + 1e-9:
                self._active = self._pending.popleft()[1]
            alpha = 1.0 if tau <= 0 else 1.0 - math.exp(-h / tau)
            self.velocity = self.velocity + alpha * (self._active - self.velocity)
            self._integrate(h)
        return self.pose

    def _integrate(self, h: float) -> None:
        p, cfg = self.pose, self.config
        vx, vy, vz, wz = self.velocity
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        altitude = p.altitude + vz * h
        if not cfg.min_altitude <= altitude <= cfg.max_altitude:
            altitude = min(max(altitude, cfg.min_altitude), cfg.max_altitude)
            self.velocity[2] = 0.0
        self.pose = CameraPose(
            x=p.x + (c * vx - s * vy) * h,
            y=p.y + (s * vx + c * vy) * h,
            altitude=altitude,
            yaw=math.remainder(p.yaw + wz * h, 2.0 * math.pi),
        )
