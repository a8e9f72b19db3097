"""Unit shapes, polygon and box geometry, smooth motion signals."""

from __future__ import annotations

import math

import numpy as np

from .config import _SUB


# --------------------------------------------------------------------------- shapes


def _regular(n: int, radius: float, start: float) -> np.ndarray:
    angles = start + 2.0 * math.pi * np.arange(n) / n
    return np.stack((radius * np.cos(angles), radius * np.sin(angles)), axis=1)


def _unit_polygons() -> dict[str, np.ndarray]:
    star_radii = np.where(np.arange(10) % 2 == 0, 0.55, 0.23)
    star_angles = -math.pi / 2 + math.pi * np.arange(10) / 5
    arm, half = 0.17, 0.5
    cross = [
        (arm, -half), (arm, -arm), (half, -arm), (half, arm), (arm, arm), (arm, half),
        (-arm, half), (-arm, arm), (-half, arm), (-half, -arm), (-arm, -arm), (-arm, -half),
    ]  # fmt: skip
    c = 0.06  # chamfer of the car body corners
    car = [
        (0.5 - c, -0.25), (0.5, -0.25 + c), (0.5, 0.25 - c), (0.5 - c, 0.25),
        (-0.5 + c, 0.25), (-0.5, 0.25 - c), (-0.5, -0.25 + c), (-0.5 + c, -0.25),
    ]  # fmt: skip
    return {
        "car": np.asarray(car, dtype=np.float64),
        "circle": _regular(32, 0.5, 0.0),
        "triangle": _regular(3, 0.55, -math.pi / 2),
        "cross": np.asarray(cross, dtype=np.float64),
        "diamond": np.asarray([(0.5, 0.0), (0.0, 0.35), (-0.5, 0.0), (0.0, -0.35)], dtype=np.float64),
        "star": np.stack((star_radii * np.cos(star_angles), star_radii * np.sin(star_angles)), axis=1),
    }


UNIT_POLYGONS: dict[str, np.ndarray] = _unit_polygons()
# Car windows (front = +x): windscreen and rear window, drawn dark.
_CAR_WINDOWS = (
    np.asarray([(0.12, -0.19), (0.28, -0.2), (0.28, 0.2), (0.12, 0.19)], dtype=np.float64),
    np.asarray([(-0.38, -0.18), (-0.28, -0.19), (-0.28, 0.19), (-0.38, 0.18)], dtype=np.float64),
)


def place_polygon(unit: np.ndarray, center_xy: np.ndarray, size: float, angle: float) -> np.ndarray:
    """Scale a unit polygon by ``size``, rotate it by ``angle`` (radians) and move it to ``center_xy``."""
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    rot = np.array([[cos_a, -sin_a], [sin_a, cos_a]])
    return unit @ rot.T * size + np.asarray(center_xy, dtype=np.float64)


def polygon_box_xywh(poly: np.ndarray) -> np.ndarray:
    """Axis-aligned bounds of a polygon as ``box_xywh``."""
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


def clip_box_to_frame(box_xywh: np.ndarray, width: int, height: int) -> np.ndarray:
    """Intersection of ``box_xywh`` with ``[0, width] x [0, height]`` (zero size when disjoint)."""
    x1, y1 = max(box_xywh[0], 0.0), max(box_xywh[1], 0.0)
    x2 = min(box_xywh[0] + box_xywh[2], float(width))
    y2 = min(box_xywh[1] + box_xywh[3], float(height))
    return np.array([x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)])


def is_out_of_view(box_xywh: np.ndarray, width: int, height: int) -> bool:
    """True when less than one pixel of the box lies inside the frame (in width or height)."""
    clipped = clip_box_to_frame(box_xywh, width, height)
    return bool(clipped[2] < 1.0 or clipped[3] < 1.0)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _SUB).astype(np.int32)


# --------------------------------------------------------------------------- motion


def smooth_signal(rng: np.random.Generator, n: int, cycles_per_100: tuple[float, float], parts: int = 3) -> np.ndarray:
    """A smooth random signal in [-1, 1]: a normalised sum of ``parts`` sinusoids.

    Frequencies are given in cycles per 100 frames so motion speed does not depend on the
    sequence length.
    """
    t = np.arange(n, dtype=np.float64)
    freqs = rng.uniform(cycles_per_100[0], cycles_per_100[1], parts) / 100.0
    phases = rng.uniform(0.0, 2.0 * math.pi, parts)
    weights = rng.uniform(0.3, 1.0, parts)
    signal = np.zeros(n)
    for f, p, w in zip(freqs, phases, weights):
        signal += w * np.sin(2.0 * math.pi * f * t + p)
    return signal / weights.sum()


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _headings(centers_world: np.ndarray, initial: float) -> np.ndarray:
    """Direction of travel per frame (radians), kept while the object is nearly still."""
    n = centers_world.shape[0]
    angles = np.empty(n)
    current = initial
    velocity = np.gradient(centers_world, axis=0) if n > 1 else np.zeros((n, 2))
    for t in range(n):
        vx, vy = velocity[t]
        if math.hypot(vx, vy) > 0.3:
            current = math.atan2(vy, vx)
        angles[t] = current
    return angles
