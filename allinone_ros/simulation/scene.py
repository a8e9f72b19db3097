"""The follow scene: a large ground texture, a target car driving its own path, parked cars, trees.

World frame (REP-103 ENU): X east, Y north, Z up, metres; the origin is the texture's bottom-left
corner. The target is a car that starts at the world centre, changes speed smoothly within
``SimConfig.target_speed``, alternates straight stretches and turns (turning back towards the
centre near the world's edge), and drives under a tree canopy half-way through. Parked cars of
other colours stand near its path. Everything is drawn from ``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data.synthetic import BACKGROUNDS, COLOURS_RGB, make_background
from .config import SimConfig

PATH_RATE_HZ = 100.0  # samples per second of the target's path


@dataclass(frozen=True)
class Car:
    """A car on the ground: centre (m), heading (rad, from +X counter-clockwise), colour name."""

    x: float
    y: float
    heading: float
    colour: str


@dataclass(frozen=True)
class Tree:
    """A canopy of circles (world metres): rows of (dx, dy, radius) around (x, y), and shades."""

    x: float
    y: float
    circles: np.ndarray  # (m, 3)
    shades: np.ndarray  # (m,)

    @property
    def radius(self) -> float:
        return float(np.max(np.hypot(self.circles[:, 0], self.circles[:, 1]) + self.circles[:, 2]))


@dataclass(frozen=True, eq=False)
class FollowScene:
    """Everything the renderer needs; the target's pose at any time by :meth:`target_at`."""

    config: SimConfig
    seed: int
    duration: float
    texture: np.ndarray  # (H, W, 3) RGB uint8, row 0 = north edge
    path_xy: np.ndarray  # (n, 2) target centre every 1 / PATH_RATE_HZ s
    path_heading: np.ndarray  # (n,)
    parked: tuple[Car, ...]
    trees: tuple[Tree, ...]
    tree_time: float  # when the target is under the tree on its path

    def target_at(self, t: float) -> Car:
        """The target car at time ``t`` s (clamped to the path's span)."""
        s = min(max(t, 0.0), self.duration) * PATH_RATE_HZ
        i = min(int(s), len(self.path_xy) - 2)
        a = s - i
        x, y = (1.0 - a) * self.path_xy[i] + a * self.path_xy[i + 1]
        dh = math.remainder(self.path_heading[i + 1] - self.path_heading[i], 2.0 * math.pi)
        return Car(float(x), float(y), float(self.path_heading[i] + a * dh), self.config.target_colour)

    @property
    def sentence(self) -> str:
        return f"the {self.config.target_colour} car"


def _smooth(values: np.ndarray, seconds: float) -> np.ndarray:
    """Moving average over ``seconds`` (edges padded), to round off piecewise-constant profiles."""
    k = max(1, int(seconds * PATH_RATE_HZ))
    padded = np.concatenate([np.full(k, values[0]), values, np.full(k, values[-1])])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.convolve(padded, kernel, mode="valid")


def _profiles(rng: np.random.Generator, cfg: SimConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Speed (m/s) and turn rate (rad/s) per path sample: piecewise constant, then smoothed."""
    speed, turn = np.empty(n), np.empty(n)
    i = 0
    while i < n:
        length = int(rng.uniform(3.0, 7.0) * PATH_RATE_HZ)
        speed[i:i + length] = rng.uniform(*cfg.target_speed)
        turning = rng.random() < 0.6
        rate = rng.uniform(0.3, 1.0) * cfg.max_turn_rate * rng.choice((-1.0, 1.0)) if turning else 0.0
        turn[i:i + length] = rate
        i += length
    return _smooth(speed, 0.8), _smooth(turn, 0.5)


def _drive(cfg: SimConfig, speed: np.ndarray, turn: np.ndarray, heading0: float) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the profiles from the world centre; near the edge the car turns back inwards."""
    n, dt = len(speed), 1.0 / PATH_RATE_HZ
    centre = np.array([cfg.world_size / 2.0, cfg.world_size / 2.0])
    xy, heading = np.empty((n, 2)), np.empty(n)
    pos, h = centre.copy(), heading0
    for k in range(n):
        xy[k], heading[k] = pos, h
        rate = turn[k]
        away = pos - centre
        if np.hypot(*away) > 0.3 * cfg.world_size:  # steer back towards the centre
            bearing = math.atan2(-away[1], -away[0])
            rate = math.copysign(max(cfg.max_turn_rate, 0.2), math.remainder(bearing - h, 2.0 * math.pi))
        h += rate * dt
        pos = pos + speed[k] * dt * np.array([math.cos(h), math.sin(h)])
    return xy, heading


def _canopy(rng: np.random.Generator, x: float, y: float, radius: float) -> Tree:
    m = int(rng.integers(4, 7))
    angles = rng.uniform(0.0, 2.0 * math.pi, m)
    dist = rng.uniform(0.0, 0.45 * radius, m)
    radii = rng.uniform(0.45, 0.65, m) * radius
    circles = np.stack([dist * np.cos(angles), dist * np.sin(angles), radii], axis=1)
    circles = np.vstack([[0.0, 0.0, 0.7 * radius], circles])
    return Tree(x, y, circles, rng.uniform(0.75, 1.15, m + 1))


def _far_from_path(path_xy: np.ndarray, x: float, y: float, clearance: float) -> bool:
    return bool(np.min(np.hypot(path_xy[:, 0] - x, path_xy[:, 1] - y)) > clearance)


def _parked_cars(rng: np.random.Generator, cfg: SimConfig, path_xy: np.ndarray) -> tuple[Car, ...]:
    colours = [c for c in COLOURS_RGB if c != cfg.target_colour]
    cars: list[Car] = []
    while len(cars) < cfg.distractors:
        base = path_xy[int(rng.integers(len(path_xy)))]
        offset = rng.uniform(8.0, 25.0) * rng.choice((-1.0, 1.0), 2)
        x, y = base + offset
        if _far_from_path(path_xy, x, y, 3.0 * cfg.target_length):
            cars.append(Car(float(x), float(y), float(rng.uniform(0, 2 * math.pi)), str(rng.choice(colours))))
    return tuple(cars)


def _trees(rng: np.random.Generator, cfg: SimConfig, path_xy: np.ndarray, under: np.ndarray) -> tuple[Tree, ...]:
    """The canopy the target drives under (radius ~0.75-0.9 car lengths), plus trees off the path."""
    r_main = float(rng.uniform(0.75, 0.9)) * cfg.target_length
    jitter = rng.normal(0.0, 0.1 * r_main, 2)
    trees = [_canopy(rng, float(under[0] + jitter[0]), float(under[1] + jitter[1]), r_main)]
    lo, hi = path_xy.min(axis=0) - 60.0, path_xy.max(axis=0) + 60.0
    for _ in range(400):
        if len(trees) >= 30:
            break
        x, y = rng.uniform(lo, hi)
        radius = float(rng.uniform(2.5, 6.0))
        if _far_from_path(path_xy, x, y, radius + 2.0 * cfg.target_length):
            trees.append(_canopy(rng, float(x), float(y), radius))
    return tuple(trees)


def plan_scene(config: SimConfig, seed: int, duration: float) -> FollowScene:
    """The scene for ``seed``: texture, target path over ``duration`` s, parked cars and trees."""
    if not (math.isfinite(duration) and 0.0 < duration <= 3600.0):
        raise ValueError(f"duration must be in (0, 3600] s, got {duration}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    kind = config.background or str(rng.choice(BACKGROUNDS))
    side = int(round(config.world_size / config.metres_per_pixel))
    feature_px = int(round(40.0 / config.metres_per_pixel))  # texture features sized for a ~40 m view
    texture = make_background(rng, kind, side, side, feature_px)
    n = int(math.ceil(duration * PATH_RATE_HZ)) + 2
    speed, turn = _profiles(rng, config, n)
    path_xy, heading = _drive(config, speed, turn, float(rng.uniform(0.0, 2.0 * math.pi)))
    tree_time = float(rng.uniform(0.35, 0.65)) * duration
    under = path_xy[int(tree_time * PATH_RATE_HZ)]
    trees = _trees(rng, config, path_xy, under)
    parked = _parked_cars(rng, config, path_xy)
    return FollowScene(config, seed, duration, texture, path_xy, heading, parked, trees, tree_time)
