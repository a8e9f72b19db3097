"""Seeded synthetic vision-language tracking sequences seen from a drone, in LaSOT layout.

Each sequence is a top-down procedural scene (``fields``, ``roads`` or ``urban`` texture)
with one target (a ``car``, ``circle``, ``triangle``, ``cross``, ``diamond`` or ``star`` in one
of eight colours), distractors that share its shape or colour, camera motion (the background
pans), smooth target motion, scale change, a tree or cloud passing over the target (partial or
full occlusion) and an out-of-view spell (the target leaves the frame and comes back). A
sentence describes the target in the first frame, e.g. ``"the red car left of the blue car"``
or ``"the yellow triangle at the top"``; it always contains ``"<colour> <shape>"``.

Written layout (what :func:`allinone_ros.data.sequence.read_sequence_dir` reads)::

    <root>/<class_name>/<class_name>-<k>/img/00000001.jpg ...
                                      /groundtruth.txt     x,y,w,h per frame
                                      /nlp.txt             the sentence
                                      /full_occlusion.txt  one line of comma-separated 0/1
                                      /out_of_view.txt     one line of comma-separated 0/1
                                      /meta.json           colours, shapes, full tracks

Ground-truth convention: ``groundtruth.txt`` holds the target's axis-aligned box (the bounds
of its drawn polygon) clipped to the frame ``[0, W] x [0, H]``, two decimals. When less than
one pixel of it is left (width or height < 1 after clipping) the target is *out of view*: the
frame's ``out_of_view`` flag is 1 and its box is written ``0,0,0,0`` (as TNL2K / WebUAV-3M mark
absence; LaSOT keeps a box and relies on the flag -- readers treat both as invisible). A frame
whose in-frame target pixels are all covered by the occluder has ``full_occlusion`` 1 and keeps
its (clipped) box. ``meta.json`` keeps the unclipped tracks of the target and of every
distractor (``track_xywh``), so a sentence naming a distractor can be scored too.

Determinism: sequence ``k`` (1-based, directory ``<class>-<k>``) draws everything from
``numpy.random.SeedSequence(entropy=seed, spawn_key=(k,))``, so it does not depend on how many
sequences are generated. The same seed and configuration give byte-identical files on the
same platform and library versions (OpenCV's JPEG encoder, libjpeg-turbo, is deterministic;
different OpenCV/numpy builds may differ in the last bits of resized noise or JPEG bytes).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]

COLOURS_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "blue": (30, 70, 225),
    "green": (40, 200, 60),
    "yellow": (245, 220, 30),
    "white": (245, 245, 245),
    "black": (18, 18, 22),
    "orange": (250, 135, 20),
    "purple": (145, 45, 190),
}
SHAPES: tuple[str, ...] = ("car", "circle", "triangle", "cross", "diamond", "star")
BACKGROUNDS: tuple[str, ...] = ("fields", "roads", "urban")
DISTRACTOR_KINDS: tuple[str, ...] = ("same_shape", "same_colour", "other")

MIN_FRAMES_OUT_OF_VIEW = 20
MIN_FRAMES_OCCLUSION = 10
MIN_TARGET_PX = 6.0
# Every unit shape polygon fits inside this radius (car corner: sqrt(0.5^2 + 0.25^2) = 0.559).
SHAPE_RADIUS = 0.57
SCALE_RANGE = 1.6  # scale change keeps the target within [1/1.6, 1.6] x its first-frame size
_SHIFT = 4  # OpenCV sub-pixel bits for polygon drawing
_SUB = 1 << _SHIFT
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_SUN_OFFSET = 0.09  # shadow offset as a fraction of the object size


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate.

    ``target_size_range`` is the first-frame target size as a fraction of the frame's shorter
    side. ``occlusion_prob`` / ``out_of_view_prob`` are per-sequence probabilities (0 disables,
    1 forces). ``same_shape_distractor`` guarantees a distractor with the target's shape and
    another colour, placed next to the target in the first frame (the case that only the
    language -- the colour word -- disambiguates).
    """

    num_sequences: int = 8
    num_frames: int = 100
    frame_width: int = 640
    frame_height: int = 360
    seed: int = 0
    class_name: str = "uav"
    target_size_range: tuple[float, float] = (0.06, 0.12)
    camera_motion: bool = True
    target_motion: bool = True
    scale_change: bool = True
    occlusion_prob: float = 0.5
    out_of_view_prob: float = 0.3
    num_distractors_range: tuple[int, int] = (1, 3)
    same_shape_distractor: bool = False
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS_RGB)
    backgrounds: tuple[str, ...] = BACKGROUNDS
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if self.num_sequences < 1:
            raise ValueError(f"num_sequences must be >= 1, got {self.num_sequences}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {self.num_frames}")
        if self.frame_width < 64 or self.frame_height < 48:
            raise ValueError(f"frame size must be at least 64x48, got {self.frame_width}x{self.frame_height}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if not _NAME_RE.match(self.class_name):
            raise ValueError(f"class_name must match [A-Za-z0-9_]+, got {self.class_name!r}")
        lo, hi = self.target_size_range
        if not 0.0 < lo <= hi <= 0.3:
            raise ValueError(f"target_size_range must satisfy 0 < lo <= hi <= 0.3, got {self.target_size_range}")
        for name in ("occlusion_prob", "out_of_view_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        dlo, dhi = self.num_distractors_range
        if not 0 <= dlo <= dhi <= 6:
            raise ValueError(f"num_distractors_range must satisfy 0 <= lo <= hi <= 6, got {self.num_distractors_range}")
        _check_subset("shapes", self.shapes, SHAPES)
        _check_subset("colours", self.colours, tuple(COLOURS_RGB))
        _check_subset("backgrounds", self.backgrounds, BACKGROUNDS)
        if self.same_shape_distractor and len(set(self.colours)) < 2:
            raise ValueError(f"same_shape_distractor needs at least two colours, got colours={self.colours}")
        if (dhi > 0 or self.same_shape_distractor) and len(set(self.shapes)) * len(set(self.colours)) < 2:
            raise ValueError(
                f"distractors need another shape or colour than the target, got shapes={self.shapes}, "
                f"colours={self.colours}"
            )
        if self.out_of_view_prob > 0 and self.num_frames < MIN_FRAMES_OUT_OF_VIEW:
            raise ValueError(
                f"out_of_view_prob > 0 needs num_frames >= {MIN_FRAMES_OUT_OF_VIEW}, got {self.num_frames}"
            )
        if self.occlusion_prob > 0 and self.num_frames < MIN_FRAMES_OCCLUSION:
            raise ValueError(f"occlusion_prob > 0 needs num_frames >= {MIN_FRAMES_OCCLUSION}, got {self.num_frames}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")


def _check_subset(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ValueError(f"{name} must not be empty")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name} {unknown}; allowed: {list(allowed)}")


def sequence_rng(seed: int, number: int) -> np.random.Generator:
    """The generator of sequence ``number`` (1-based), independent of how many are made."""
    if number < 1:
        raise ValueError(f"sequence number must be >= 1, got {number}")
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(number,)))


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


# --------------------------------------------------------------------------- backgrounds


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cells: tuple[int, ...] = (64, 16, 4)
) -> np.ndarray:
    """Value noise in [0, 1] (float32): random grids of the given cell sizes, upsampled and summed."""
    total = np.zeros((height, width), dtype=np.float32)
    weight_sum = 0.0
    for level, cell in enumerate(cells):
        gh, gw = height // cell + 2, width // cell + 2
        grid = rng.random((gh, gw), dtype=np.float32)
        up = cv2.resize(grid, (gw * cell, gh * cell), interpolation=cv2.INTER_CUBIC)[:height, :width]
        weight = 0.5**level
        total += weight * up
        weight_sum += weight
    return np.clip(total / weight_sum, 0.0, 1.0)


def _split_plots(
    rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int, min_side: int
) -> list[tuple[int, int, int, int]]:
    stack, plots = [(x0, y0, x1, y1)], []
    while stack:
        a, b, c, d = stack.pop()
        w, h = c - a, d - b
        if max(w, h) < 2 * min_side or (max(w, h) < 4 * min_side and rng.random() < 0.3):
            plots.append((a, b, c, d))
            continue
        if w >= h:
            cut = a + int(w * rng.uniform(0.3, 0.7))
            stack += [(a, b, cut, d), (cut, b, c, d)]
        else:
            cut = b + int(h * rng.uniform(0.3, 0.7))
            stack += [(a, b, c, cut), (a, cut, c, d)]
    return plots


def _texture_fields(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    palette = np.array(
        [(86, 125, 50), (120, 150, 60), (165, 152, 92), (112, 90, 62), (140, 172, 82), (192, 176, 112), (70, 100, 45)],
        dtype=np.float32,
    )
    img = np.zeros((h, w, 3), dtype=np.float32)
    for a, b, c, d in _split_plots(rng, 0, 0, w, h, max(8, short // 6)):
        colour = palette[rng.integers(len(palette))] * rng.uniform(0.9, 1.1)
        period = rng.uniform(3.0, 8.0)
        if rng.random() < 0.5:
            stripes = 1.0 + 0.08 * np.sin(2.0 * math.pi * np.arange(c - a) / period)[None, :, None]
        else:
            stripes = 1.0 + 0.08 * np.sin(2.0 * math.pi * np.arange(d - b) / period)[:, None, None]
        img[b:d, a:c] = colour * stripes
        cv2.rectangle(img, (a, b), (c - 1, d - 1), (58, 78, 40), max(1, short // 180))
    return img


def _tree_clumps(rng: np.random.Generator, img: np.ndarray, count: int, short: int) -> None:
    h, w = img.shape[:2]
    for _ in range(count):
        cx, cy = int(rng.integers(w)), int(rng.integers(h))
        for _ in range(int(rng.integers(2, 6))):
            r = max(2, int(short * rng.uniform(0.012, 0.035)))
            jx, jy = (rng.normal(0.0, 1.0, 2) * r).astype(int)
            shade = float(rng.uniform(0.75, 1.15))
            cv2.circle(img, (cx + int(jx), cy + int(jy)), r, (34 * shade, 72 * shade, 34 * shade), -1, cv2.LINE_AA)


def _texture_roads(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = (92, 132, 62)
    road_w = max(4, int(short * rng.uniform(0.04, 0.07)))
    for _ in range(int(rng.integers(2, 4))):
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle), math.sin(angle)
        far = 2 * (w + h)
        p1 = (int(px - far * dx), int(py - far * dy))
        p2 = (int(px + far * dx), int(py + far * dy))
        cv2.line(img, p1, p2, (96, 96, 102), road_w, cv2.LINE_AA)
        dash = max(4, road_w)
        for k in range(-far // dash, far // dash, 2):
            a = (int(px + k * dash * dx), int(py + k * dash * dy))
            b = (int(px + (k + 1) * dash * dx), int(py + (k + 1) * dash * dy))
            cv2.line(img, a, b, (225, 225, 215), max(1, road_w // 10), cv2.LINE_AA)
    _tree_clumps(rng, img, int(rng.integers(8, 25)), short)
    return img


def _texture_urban(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = (118, 118, 122)
    roofs = np.array(
        [(150, 62, 50), (172, 172, 172), (92, 92, 102), (202, 192, 172), (122, 82, 62), (70, 80, 95)], dtype=np.float32
    )
    block = max(16, int(short * rng.uniform(0.22, 0.32)))
    street = max(3, int(short * 0.05))
    for by in range(0, h, block + street):
        for bx in range(0, w, block + street):
            for a, b, c, d in _split_plots(rng, bx, by, bx + block, by + block, max(5, block // 3)):
                if rng.random() < 0.15:
                    continue  # courtyard
                colour = roofs[rng.integers(len(roofs))] * rng.uniform(0.9, 1.1)
                inset = max(1, (c - a) // 12)
                cv2.rectangle(img, (a + inset, b + inset), (c - 1 - inset, d - 1 - inset), colour.tolist(), -1)
                ridge = (colour * 0.8).tolist()
                cv2.line(img, (a + inset, (b + d) // 2), (c - 1 - inset, (b + d) // 2), ridge, 1)
    _tree_clumps(rng, img, int(rng.integers(3, 10)), short)
    return img


def make_background(rng: np.random.Generator, kind: str, height: int, width: int, short: int) -> np.ndarray:
    """A top-down RGB uint8 texture ``(height, width, 3)`` of the given kind."""
    builders: dict[str, Callable[[np.random.Generator, int, int, int], np.ndarray]] = {
        "fields": _texture_fields,
        "roads": _texture_roads,
        "urban": _texture_urban,
    }
    if kind not in builders:
        raise ValueError(f"unknown background {kind!r}; allowed: {list(builders)}")
    base = builders[kind](rng, height, width, short)
    noise = fractal_noise(rng, height, width, (max(8, short // 5), max(4, short // 24), 2))
    shaded = base * (0.78 + 0.44 * noise)[:, :, None]
    return np.clip(shaded + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- scene plan


@dataclass(frozen=True, eq=False)
class SceneObject:
    """A target or distractor: shape, colour and per-frame centre, size and angle (frame coords)."""

    role: str  # "target", or the distractor kind
    shape: str
    colour: str
    centers_xy: np.ndarray  # (n, 2)
    sizes: np.ndarray  # (n,)
    angles: np.ndarray  # (n,)

    def polygon(self, t: int) -> np.ndarray:
        return place_polygon(UNIT_POLYGONS[self.shape], self.centers_xy[t], float(self.sizes[t]), float(self.angles[t]))

    def box_xywh(self, t: int) -> np.ndarray:
        return polygon_box_xywh(self.polygon(t))


@dataclass(frozen=True, eq=False)
class Occluder:
    """A tree canopy (opaque, fixed in the world) or a cloud (soft, drifting) made of circles."""

    kind: str  # "tree" or "cloud"
    centers_xy: np.ndarray  # (n, 2) cluster centre per frame, frame coords
    circles: np.ndarray  # (m, 3) offsets dx, dy and radius around the cluster centre
    shades: np.ndarray  # (m,) brightness factors of the circles

    def bounds(self, t: int) -> tuple[float, float, float, float]:
        c = self.centers_xy[t]
        xs = c[0] + self.circles[:, 0]
        ys = c[1] + self.circles[:, 1]
        r = self.circles[:, 2]
        return float((xs - r).min()), float((ys - r).min()), float((xs + r).max()), float((ys + r).max())

    def draw_mask(self, mask: np.ndarray, t: int, origin_xy: tuple[int, int], antialias: bool) -> None:
        """Draw the circles (value 255) into ``mask`` whose pixel (0, 0) is ``origin_xy``."""
        c = self.centers_xy[t]
        line = cv2.LINE_AA if antialias else cv2.LINE_8
        for dx, dy, r in self.circles:
            centre = _fixed(np.array([c[0] + dx - origin_xy[0], c[1] + dy - origin_xy[1]]))
            cv2.circle(mask, (int(centre[0]), int(centre[1])), int(round(r * _SUB)), 255, -1, line, _SHIFT)


@dataclass(frozen=True, eq=False)
class SyntheticSequence:
    """A planned sequence: ground truth, flags, sentence and metadata, frames rendered on demand."""

    name: str
    number: int
    width: int
    height: int
    world: np.ndarray  # RGB uint8 background, larger than the frame
    camera_xy: np.ndarray  # (n, 2) int top-left of the frame window in the world
    target: SceneObject
    distractors: tuple[SceneObject, ...]
    occluders: tuple[Occluder, ...]
    boxes_xywh: np.ndarray  # (n, 4) ground truth as written
    out_of_view: np.ndarray  # (n,) bool
    full_occlusion: np.ndarray  # (n,) bool
    visible_fraction: np.ndarray  # (n,) fraction of the in-frame target pixels not covered
    sentence: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.boxes_xywh.shape[0])

    def render_frame(self, t: int) -> np.ndarray:
        """Frame ``t`` (0-based) as RGB uint8 ``(height, width, 3)``."""
        if not 0 <= t < len(self):
            raise IndexError(f"frame index {t} outside 0..{len(self) - 1}")
        x0, y0 = (int(v) for v in self.camera_xy[t])
        frame = np.ascontiguousarray(self.world[y0 : y0 + self.height, x0 : x0 + self.width])
        for obj in (*self.distractors, self.target):
            _draw_object(frame, obj, t)
        for occ in self.occluders:
            _draw_occluder(frame, occ, t)
        return frame


def _roi(
    bounds: tuple[float, float, float, float], width: int, height: int, pad: int = 2
) -> tuple[int, int, int, int] | None:
    x1 = max(int(math.floor(bounds[0])) - pad, 0)
    y1 = max(int(math.floor(bounds[1])) - pad, 0)
    x2 = min(int(math.ceil(bounds[2])) + pad, width)
    y2 = min(int(math.ceil(bounds[3])) + pad, height)
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def _draw_object(frame: np.ndarray, obj: SceneObject, t: int) -> None:
    h, w = frame.shape[:2]
    poly = obj.polygon(t)
    size = float(obj.sizes[t])
    shadow = poly + _SUN_OFFSET * size
    lo = np.minimum(poly.min(axis=0), shadow.min(axis=0))
    hi = np.maximum(poly.max(axis=0), shadow.max(axis=0))
    roi = _roi((lo[0], lo[1], hi[0], hi[1]), w, h)
    if roi is None:
        return
    x1, y1, x2, y2 = roi
    mask = np.zeros((y2 - y1, x2 - x1), dtype=np.uint8)
    cv2.fillPoly(mask, [_fixed(shadow - (x1, y1))], 255, cv2.LINE_AA, _SHIFT)
    patch = frame[y1:y2, x1:x2].astype(np.float32)
    patch *= 1.0 - 0.45 * (mask.astype(np.float32) / 255.0)[:, :, None]
    frame[y1:y2, x1:x2] = (patch + 0.5).astype(np.uint8)
    colour = COLOURS_RGB[obj.colour]
    cv2.fillPoly(frame, [_fixed(poly)], colour, cv2.LINE_AA, _SHIFT)
    if obj.shape == "car":
        dark = tuple(int(0.25 * c + 25) for c in colour)
        for window in _CAR_WINDOWS:
            pts = place_polygon(window, obj.centers_xy[t], size, float(obj.angles[t]))
            cv2.fillPoly(frame, [_fixed(pts)], dark, cv2.LINE_AA, _SHIFT)


def _draw_occluder(frame: np.ndarray, occ: Occluder, t: int) -> None:
    h, w = frame.shape[:2]
    roi = _roi(occ.bounds(t), w, h, pad=4)
    if roi is None:
        return
    x1, y1, x2, y2 = roi
    if occ.kind == "tree":
        c = occ.centers_xy[t]
        for (dx, dy, r), shade in zip(occ.circles, occ.shades):
            centre = _fixed(np.array([c[0] + dx, c[1] + dy]))
            colour = (30.0 * shade, 70.0 * shade, 30.0 * shade)
            cv2.circle(frame, (int(centre[0]), int(centre[1])), int(round(r * _SUB)), colour, -1, cv2.LINE_AA, _SHIFT)
        return
    mask = np.zeros((y2 - y1, x2 - x1), dtype=np.uint8)
    occ.draw_mask(mask, t, (x1, y1), antialias=True)
    alpha = cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32)[:, :, None] / 255.0
    patch = frame[y1:y2, x1:x2].astype(np.float32)
    cloud = np.array((236.0, 238.0, 242.0), dtype=np.float32)
    frame[y1:y2, x1:x2] = (patch * (1.0 - alpha) + cloud * alpha + 0.5).astype(np.uint8)


def _target_visible_fraction(
    target: SceneObject, occluders: tuple[Occluder, ...], t: int, width: int, height: int
) -> float:
    """Fraction of the target's in-frame pixels that no occluder covers (0 when out of view)."""
    poly = target.polygon(t)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    roi = _roi((lo[0], lo[1], hi[0], hi[1]), width, height, pad=1)
    if roi is None:
        return 0.0
    x1, y1, x2, y2 = roi
    target_mask = np.zeros((y2 - y1, x2 - x1), dtype=np.uint8)
    cv2.fillPoly(target_mask, [_fixed(poly - (x1, y1))], 255, cv2.LINE_8, _SHIFT)
    total = int(np.count_nonzero(target_mask))
    if total == 0:
        return 0.0
    if not occluders:
        return 1.0
    cover = np.zeros_like(target_mask)
    for occ in occluders:
        occ.draw_mask(cover, t, (x1, y1), antialias=False)
    covered = int(np.count_nonzero(target_mask & cover))
    return 1.0 - covered / total


# --------------------------------------------------------------------------- planning helpers


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


def _pick_distractor_look(
    rng: np.random.Generator, kind: str, target: tuple[str, str], shapes: tuple[str, ...], colours: tuple[str, ...],
    taken: set[tuple[str, str]],
) -> tuple[str, str, str]:  # fmt: skip
    """(kind, shape, colour) of a distractor; never identical to the target."""
    t_shape, t_colour = target
    options: dict[str, list[tuple[str, str]]] = {
        "same_shape": [(t_shape, c) for c in colours if c != t_colour],
        "same_colour": [(s, t_colour) for s in shapes if s != t_shape],
        "other": [(s, c) for s in shapes for c in colours if s != t_shape and c != t_colour],
    }
    order = [kind] + [k for k in DISTRACTOR_KINDS if k != kind]
    for candidate_kind in order:
        pool = [look for look in options[candidate_kind] if look not in taken] or options[candidate_kind]
        if pool:
            shape, colour = pool[int(rng.integers(len(pool)))]
            return candidate_kind, shape, colour
    shape, colour = next((s, c) for s in shapes for c in colours if (s, c) != target)
    return "other", shape, colour


def _relation(target_xy: np.ndarray, other_xy: np.ndarray) -> str:
    """Spatial relation of the target to another object in image terms ("left of", "above", ...)."""
    dx, dy = other_xy - target_xy
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def _position_phrase(xy: np.ndarray, width: int, height: int) -> str:
    col = min(int(3 * xy[0] / width), 2)
    row = min(int(3 * xy[1] / height), 2)
    vertical, horizontal = ("top", "middle", "bottom")[row], ("left", "centre", "right")[col]
    if row == 1 and col == 1:
        return "in the centre"
    if row == 1:
        return f"on the {horizontal}"
    if col == 1:
        return f"at the {vertical}"
    return f"in the {vertical} {horizontal}"


_PLAIN_TEMPLATES = ("the {c} {s}", "the {c} {s} seen from the drone", "a {c} {s} on the ground")


def describe_object(
    rng: np.random.Generator, shape: str, colour: str, centre_xy: np.ndarray,
    related: tuple[str, str, np.ndarray] | None, width: int, height: int,
) -> str:
    """A sentence for an object at ``centre_xy``; always contains ``"<colour> <shape>"``.

    ``related`` is another object ``(shape, colour, centre_xy)`` that the sentence may name
    ("the red car left of the blue car"); otherwise it gives the position in the frame or none.
    One ``rng.random()`` draw, plus one ``rng.integers`` for a sentence without a position.
    """
    choice = rng.random()
    head = f"the {colour} {shape}"
    if related is not None and choice < 0.45:
        r_shape, r_colour, r_centre = related
        return f"{head} {_relation(np.asarray(centre_xy), np.asarray(r_centre))} the {r_colour} {r_shape}"
    if choice < 0.75:
        return f"{head} {_position_phrase(np.asarray(centre_xy), width, height)}"
    return plain_description(rng, shape, colour)


def plain_description(rng: np.random.Generator, shape: str, colour: str) -> str:
    """A sentence naming only ``"<colour> <shape>"`` (one ``rng.integers`` draw)."""
    return _PLAIN_TEMPLATES[int(rng.integers(len(_PLAIN_TEMPLATES)))].format(c=colour, s=shape)


def _sentence(
    rng: np.random.Generator, target: SceneObject, related: SceneObject | None, width: int, height: int
) -> str:
    """The sequence's sentence: the target described in the first frame."""
    other = (related.shape, related.colour, related.centers_xy[0]) if related is not None else None
    return describe_object(rng, target.shape, target.colour, target.centers_xy[0], other, width, height)


def _round_list(values: np.ndarray, digits: int = 3) -> list[Any]:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


# --------------------------------------------------------------------------- planning


def plan_sequence(config: SyntheticConfig, number: int) -> SyntheticSequence:
    """Plan sequence ``number`` (1-based) of ``config``; frames are rendered by ``render_frame``."""
    rng = sequence_rng(config.seed, number)
    n, width, height = config.num_frames, config.frame_width, config.frame_height
    short = min(width, height)
    name = f"{config.class_name}-{number}"

    # Decisions first, always in the same order, so each stream position has one meaning.
    background = config.backgrounds[int(rng.integers(len(config.backgrounds)))]
    do_occlusion = bool(rng.random() < config.occlusion_prob)
    do_out_of_view = bool(rng.random() < config.out_of_view_prob)
    t_shape = config.shapes[int(rng.integers(len(config.shapes)))]
    t_colour = config.colours[int(rng.integers(len(config.colours)))]

    # Camera: the frame is a window panning over a larger world texture.
    cam_amp = np.array([0.15 * width, 0.15 * height]) if config.camera_motion else np.zeros(2)
    cam_signal = np.stack([smooth_signal(rng, n, (0.2, 1.2)) for _ in range(2)], axis=1)
    margin_world = np.ceil(cam_amp).astype(int) + 1
    camera_xy = np.round(margin_world + cam_amp * cam_signal).astype(int)
    world = make_background(rng, background, height + 2 * int(margin_world[1]), width + 2 * int(margin_world[0]), short)
    cam_shift = (camera_xy - camera_xy[0]).astype(np.float64)  # world motion seen in the frame is -cam_shift

    # Target size and path (frame coordinates).
    size0 = max(MIN_TARGET_PX, rng.uniform(*config.target_size_range) * short)
    scale_signal = smooth_signal(rng, n, (0.2, 1.0))
    if config.scale_change:
        scale = np.exp(0.5 * math.log(SCALE_RANGE) * (scale_signal - scale_signal[0]))
    else:
        scale = np.ones(n)
    sizes = np.maximum(size0 * scale, MIN_TARGET_PX)
    half_extent = SHAPE_RADIUS * float(sizes.max()) + 2.0
    frame_wh = np.array([width, height], dtype=np.float64)
    room = frame_wh / 2.0 - half_extent
    path_signal = np.stack([smooth_signal(rng, n, (0.3, 1.3)) for _ in range(2)], axis=1)
    amp = rng.uniform(0.2, 0.7, 2) * room if config.target_motion else np.zeros(2)
    centre = frame_wh / 2.0 + rng.uniform(-1.0, 1.0, 2) * (room - amp)
    path = centre + amp * path_signal

    out_spell: tuple[int, int] | None = None
    edge_names = ("left", "right", "top", "bottom")
    edge = int(rng.integers(4))
    spell_u = rng.random(2)
    if do_out_of_view:
        ramp = max(3, round(0.08 * n))
        duration = max(2, round((0.06 + 0.09 * spell_u[0]) * n))
        lo = max(ramp + 1, round(0.4 * n))
        hi = max(lo, n - 1 - ramp - duration)
        t0 = lo + int(spell_u[1] * (hi - lo + 1))
        t1 = t0 + duration - 1
        t = np.arange(n, dtype=np.float64)
        blend = np.where(t < t0, _smoothstep((t - (t0 - ramp)) / ramp), 1.0)
        blend = np.where(t > t1, _smoothstep((t1 + ramp - t) / ramp), blend)
        outside = path.copy()
        beyond = half_extent + 2.0
        if edge == 0:
            outside[:, 0] = -beyond
        elif edge == 1:
            outside[:, 0] = width + beyond
        elif edge == 2:
            outside[:, 1] = -beyond
        else:
            outside[:, 1] = height + beyond
        path = (1.0 - blend[:, None]) * path + blend[:, None] * outside
        out_spell = (t0, t1)

    target_angle0 = rng.uniform(-math.pi, math.pi)
    spin = rng.uniform(-0.03, 0.03)
    if t_shape == "car":
        target_angles = _headings(path + cam_shift, target_angle0)
    else:
        target_angles = target_angle0 + spin * np.arange(n)
    target = SceneObject("target", t_shape, t_colour, path, sizes, target_angles)

    # Distractors: the first one sits next to the target in frame 0 (the sentence may name it).
    num_distractors = int(rng.integers(config.num_distractors_range[0], config.num_distractors_range[1] + 1))
    kinds: list[str] = ["same_shape"] if config.same_shape_distractor else []
    num_distractors = max(num_distractors, len(kinds))
    while len(kinds) < num_distractors:
        kinds.append(DISTRACTOR_KINDS[int(rng.integers(len(DISTRACTOR_KINDS)))])
    distractors: list[SceneObject] = []
    taken: set[tuple[str, str]] = set()
    placed: list[tuple[np.ndarray, float]] = [(path[0], size0)]
    for i, wanted in enumerate(kinds):
        kind, shape, colour = _pick_distractor_look(
            rng, wanted, (t_shape, t_colour), config.shapes, config.colours, taken
        )
        taken.add((shape, colour))
        d_size = max(MIN_TARGET_PX, size0 * rng.uniform(0.8, 1.25))
        d_margin = SHAPE_RADIUS * d_size + 2.0
        low = np.array([d_margin, d_margin])
        high = frame_wh - d_margin
        start = None
        if i == 0:
            directions = np.array([(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)])
            distance = rng.uniform(1.6, 2.6) * max(size0, d_size)
            for k in rng.permutation(4):
                candidate = path[0] + directions[k] * distance
                if np.all(candidate >= low) and np.all(candidate <= high):
                    start = candidate
                    break
        for _ in range(40):
            if start is not None:
                break
            candidate = rng.uniform(low, high)
            if all(np.linalg.norm(candidate - p) > 0.9 * (s + d_size) for p, s in placed):
                start = candidate
        if start is None:
            start = rng.uniform(low, high)
        placed.append((start, d_size))
        own = np.stack([smooth_signal(rng, n, (0.2, 1.0)) for _ in range(2)], axis=1)
        own_amp = rng.uniform(0.0, 0.12, 2) * short if config.target_motion else np.zeros(2)
        centers = start + own_amp * (own - own[0]) - cam_shift
        angle0 = rng.uniform(-math.pi, math.pi)
        d_spin = rng.uniform(-0.03, 0.03)
        if shape == "car":
            angles = _headings(centers + cam_shift, angle0)
        else:
            angles = angle0 + d_spin * np.arange(n)
        distractors.append(SceneObject(kind, shape, colour, centers, np.full(n, d_size), angles))

    # Occluder over the target around frame tc: a tree (fixed in the world) if frame 0 stays
    # clear, otherwise a cloud crossing the target fast enough to leave frame 0 uncovered.
    occluders: tuple[Occluder, ...] = ()
    occ_meta: dict[str, Any] | None = None
    occ_u = rng.random(3)
    if do_occlusion:
        tc_hi = round(0.4 * n) if out_spell is None else min(round(0.4 * n), out_spell[0] - max(3, round(0.08 * n)) - 1)
        tc_lo = max(2, round(0.15 * n))
        tc = tc_lo + int(occ_u[0] * (max(tc_lo, tc_hi) - tc_lo + 1))
        radius = float(sizes[tc]) * (0.7 + 0.8 * occ_u[1])
        m = int(rng.integers(4, 8))
        offsets = rng.normal(0.0, 0.3, (m, 2)) * radius
        offsets[0] = 0.0
        radii = radius * rng.uniform(0.35, 0.6, m)
        radii[0] = radius * 0.6
        circles = np.column_stack((offsets, radii))
        shades = rng.uniform(0.8, 1.2, m)
        tree_centres = path[tc] + cam_shift[tc] - cam_shift
        tree = Occluder("tree", tree_centres, circles, shades)
        if _target_visible_fraction(target, (tree,), 0, width, height) >= 1.0:
            occluders = (tree,)
        else:
            reach = float(np.abs(circles[:, :2]).max() + circles[:, 2].max()) + SHAPE_RADIUS * float(sizes.max())
            angle = 2.0 * math.pi * occ_u[2]
            direction = np.array([math.cos(angle), math.sin(angle)])
            speed = 1.2 * (reach + 2.0) / tc
            # The cloud crosses the target at constant relative velocity: centred on it at tc and
            # more than its reach away at frame 0.
            relative = direction * speed * (np.arange(n) - tc)[:, None]
            occluders = (Occluder("cloud", path + relative, circles, shades),)
        occ_meta = {"kind": occluders[0].kind, "peak_frame": tc}

    # Ground truth and flags from the geometry.
    true_boxes = np.stack([target.box_xywh(t) for t in range(n)])
    boxes = np.zeros((n, 4))
    out_of_view = np.zeros(n, dtype=bool)
    full_occlusion = np.zeros(n, dtype=bool)
    visible_fraction = np.zeros(n)
    for t in range(n):
        clipped = clip_box_to_frame(true_boxes[t], width, height)
        if clipped[2] < 1.0 or clipped[3] < 1.0:
            out_of_view[t] = True
            continue
        boxes[t] = clipped
        visible_fraction[t] = _target_visible_fraction(target, occluders, t, width, height)
        full_occlusion[t] = visible_fraction[t] == 0.0
    if out_of_view[0] or full_occlusion[0] or visible_fraction[0] < 1.0:
        raise RuntimeError(f"{name}: internal error, the target is not fully visible in the first frame")

    related = distractors[0] if distractors else None
    sentence = _sentence(rng, target, related, width, height)
    meta = {
        "format_version": 1,
        "name": name,
        "number": number,
        "seed": config.seed,
        "frame_size_wh": [width, height],
        "num_frames": n,
        "background": background,
        "sentence": sentence,
        "target": _object_meta(target, true_boxes),
        "distractors": [
            _object_meta(d, np.stack([d.box_xywh(t) for t in range(n)])) for d in distractors
        ],
        "related_distractor": 0 if related is not None else None,
        "phenomena": {
            "camera_motion": config.camera_motion,
            "target_motion": config.target_motion,
            "scale_change": config.scale_change,
            "occlusion": occ_meta,
            "out_of_view": (
                {"edge": edge_names[edge], "frames": list(out_spell)} if out_spell is not None else None
            ),
        },
        "target_visible_fraction": _round_list(visible_fraction, 4),
        "conventions": {
            "frames": "0-based indices here; img/%08d.jpg files are 1-based",
            "groundtruth": "box_xywh clipped to [0,W]x[0,H]; 0,0,0,0 and out_of_view=1 when < 1 px is in view",
            "track_xywh": "unclipped polygon bounds, frame pixels",
        },
    }
    return SyntheticSequence(
        name=name,
        number=number,
        width=width,
        height=height,
        world=world,
        camera_xy=camera_xy,
        target=target,
        distractors=tuple(distractors),
        occluders=occluders,
        boxes_xywh=boxes,
        out_of_view=out_of_view,
        full_occlusion=full_occlusion,
        visible_fraction=visible_fraction,
        sentence=sentence,
        meta=meta,
    )


def _object_meta(obj: SceneObject, track_xywh: np.ndarray) -> dict[str, Any]:
    return {
        "role": obj.role,
        "shape": obj.shape,
        "colour": obj.colour,
        "colour_rgb": list(COLOURS_RGB[obj.colour]),
        "track_xywh": _round_list(track_xywh, 3),
    }


@dataclass(frozen=True, eq=False)
class ObjectTrack:
    """One object of a written scene, read back from ``meta.json``."""

    role: str  # "target" or the distractor kind
    shape: str
    colour: str
    track_xywh: np.ndarray  # (n, 4) unclipped polygon bounds per frame, frame pixels

    def centre_xy(self, t: int) -> np.ndarray:
        x, y, w, h = self.track_xywh[t]
        return np.array([x + w / 2.0, y + h / 2.0])


def scene_objects(meta: dict[str, Any]) -> list[ObjectTrack]:
    """The target (first) and the distractors of a sequence's ``meta.json`` content."""
    objects = []
    for entry in [meta["target"], *meta["distractors"]]:
        track = np.asarray(entry["track_xywh"], dtype=np.float64)
        if track.ndim != 2 or track.shape[1] != 4:
            raise ValueError(f"meta.json of {meta.get('name')!r}: track_xywh must be (n, 4), got {track.shape}")
        objects.append(ObjectTrack(str(entry["role"]), str(entry["shape"]), str(entry["colour"]), track))
    return objects


# --------------------------------------------------------------------------- writing


def _format_box(box: np.ndarray) -> str:
    if not np.any(box):
        return "0,0,0,0"
    return ",".join(f"{v:.2f}" for v in box)


def write_sequence(
    seq: SyntheticSequence, seq_dir: PathLike, jpeg_quality: int = 95, progress: Callable[[int], None] | None = None
) -> Path:
    """Render and write ``seq`` into ``seq_dir`` (LaSOT layout); ``progress(1)`` after each frame."""
    out = Path(seq_dir)
    img_dir = out / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
    for t in range(len(seq)):
        bgr = cv2.cvtColor(seq.render_frame(t), cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise OSError(f"{out}: JPEG encoding of frame {t + 1} failed")
        (img_dir / f"{t + 1:08d}.jpg").write_bytes(buf.tobytes())
        if progress is not None:
            progress(1)
    (out / "groundtruth.txt").write_text("".join(_format_box(b) + "\n" for b in seq.boxes_xywh))
    (out / "nlp.txt").write_text(seq.sentence + "\n", encoding="utf-8")
    (out / "full_occlusion.txt").write_text(",".join(str(int(v)) for v in seq.full_occlusion) + "\n")
    (out / "out_of_view.txt").write_text(",".join(str(int(v)) for v in seq.out_of_view) + "\n")
    (out / "meta.json").write_text(json.dumps(seq.meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def generate_dataset(
    root: PathLike,
    config: SyntheticConfig,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write ``config.num_sequences`` sequences under ``root/<class_name>/`` and return their dirs.

    An existing non-empty sequence directory raises ``FileExistsError`` unless ``overwrite``,
    which deletes it first (so no stale frames of a longer earlier run survive).
    """
    class_dir = Path(root) / config.class_name
    written: list[Path] = []
    for number in range(1, config.num_sequences + 1):
        seq_dir = class_dir / f"{config.class_name}-{number}"
        if seq_dir.exists() and any(seq_dir.iterdir()):
            if not overwrite:
                raise FileExistsError(f"{seq_dir} exists and is not empty (overwrite=True or --overwrite replaces it)")
            shutil.rmtree(seq_dir)
        seq = plan_sequence(config, number)
        write_sequence(seq, seq_dir, config.jpeg_quality, progress)
        LOGGER.debug("wrote %s (%d frames): %s", seq_dir, len(seq), seq.sentence)
        written.append(seq_dir)
    return written
