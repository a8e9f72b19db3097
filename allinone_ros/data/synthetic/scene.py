"""Planned scene objects, occluders and sequences, and how their frames are drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .config import _SHIFT, _SUB, _SUN_OFFSET, COLOURS_RGB, SyntheticConfig
from .geometry import (
    _CAR_WINDOWS, UNIT_POLYGONS, _fixed, _headings, clip_box_to_frame, place_polygon, polygon_box_xywh, smooth_signal,
)


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


def object_motion(
    rng: np.random.Generator, config: SyntheticConfig, role: str, shape: str, colour: str, start: np.ndarray,
    d_size: float, cam_shift: np.ndarray,
) -> SceneObject:  # fmt: skip
    """A distractor starting at ``start`` (frame 0): its own smooth wander plus the camera's motion."""
    n, short = config.num_frames, min(config.frame_width, config.frame_height)
    own = np.stack([smooth_signal(rng, n, (0.2, 1.0)) for _ in range(2)], axis=1)
    own_amp = rng.uniform(0.0, 0.12, 2) * short if config.target_motion else np.zeros(2)
    centers = start + own_amp * (own - own[0]) - cam_shift
    angle0 = rng.uniform(-math.pi, math.pi)
    d_spin = rng.uniform(-0.03, 0.03)
    if shape == "car":
        angles = _headings(centers + cam_shift, angle0)
    else:
        angles = angle0 + d_spin * np.arange(n)
    return SceneObject(role, shape, colour, centers, np.full(n, d_size), angles)


def target_flags(
    target: SceneObject, occluders: tuple[Occluder, ...], width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth from the geometry: (true boxes, written boxes, out_of_view, full_occlusion, visible fraction)."""
    n = target.centers_xy.shape[0]
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
    return true_boxes, boxes, out_of_view, full_occlusion, visible_fraction
