"""Render the camera's view of a :class:`~allinone_ros.simulation.scene.FollowScene`.

The ground texture is warped into the image with one affine map (nadir pinhole camera, see
:mod:`allinone_ros.simulation.camera`); cars (with a shadow and, for the car shape, windows) and
tree canopies are drawn on top, canopies last so they hide what drives under them. The ground
truth is the image box of the target's drawn polygon, unclipped (it may lie partly or wholly
outside the image).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..data.synthetic import COLOURS_RGB, UNIT_POLYGONS, place_polygon
from .camera import CameraPose, world_to_image
from .scene import Car, FollowScene, Tree

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_SUB = 1 << _SHIFT
_SHADOW = 0.09  # shadow offset, fraction of the car length
_WINDOWS = (  # windscreen and rear window of the unit car (front = +x), drawn dark
    np.array([(0.12, -0.19), (0.28, -0.2), (0.28, 0.2), (0.12, 0.19)]),
    np.array([(-0.38, -0.18), (-0.28, -0.19), (-0.28, 0.19), (-0.38, 0.18)]),
)


@dataclass(frozen=True)
class ViewTruth:
    """Where the target is in one rendered image."""

    box_xywh: np.ndarray  # (4,) image pixels, unclipped
    offset_x: float  # box centre vs image centre, normalised like TrackedTarget (+ right)
    offset_y: float  # (+ down)
    in_view: bool  # the box centre lies inside the image
    under_tree: bool  # the target's centre is below a canopy

    @property
    def abs_offset(self) -> float:
        return math.hypot(self.offset_x, self.offset_y)


def _fixed(points_uv: np.ndarray) -> np.ndarray:
    # Continuous image coordinates (pixel i spans [i, i + 1)) -> OpenCV's pixel-centre convention.
    return np.round((points_uv - 0.5) * _SUB).astype(np.int32)


def _texture_map(scene: FollowScene, pose: CameraPose) -> np.ndarray:
    """2x3 affine map from texture pixels (OpenCV convention) to image pixels (OpenCV convention)."""
    cfg = scene.config
    mpp, side = cfg.metres_per_pixel, scene.texture.shape[0] * cfg.metres_per_pixel
    k = cfg.focal_px / pose.altitude
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    to_body = np.array([[c, s], [-s, c]])
    to_image = np.array([[0.0, -k], [-k, 0.0]])
    tex_to_world = np.diag([mpp, -mpp])
    world_offset = np.array([0.5 * mpp, side - 0.5 * mpp]) - (pose.x, pose.y)
    a = to_image @ to_body @ tex_to_world
    b = np.array([cfg.frame_width / 2.0 - 0.5, cfg.frame_height / 2.0 - 0.5]) + to_image @ to_body @ world_offset
    return np.hstack([a, b[:, None]])


def _car_polygon(car: Car, length: float) -> np.ndarray:
    return place_polygon(UNIT_POLYGONS["car"], np.array([car.x, car.y]), length, car.heading)


def _draw_car(frame: np.ndarray, scene: FollowScene, pose: CameraPose, car: Car) -> None:
    length = scene.config.target_length
    poly = world_to_image(pose, _car_polygon(car, length), scene.config)
    size_px = length * scene.config.focal_px / pose.altitude
    shadow = poly + _SHADOW * size_px
    h, w = frame.shape[:2]
    lo, hi = np.minimum(poly.min(0), shadow.min(0)), np.maximum(poly.max(0), shadow.max(0))
    x1, y1 = max(int(lo[0]) - 2, 0), max(int(lo[1]) - 2, 0)
    x2, y2 = min(int(math.ceil(hi[0])) + 2, w), min(int(math.ceil(hi[1])) + 2, h)
    if x2 <= x1 or y2 <= y1:
        return
    mask = np.zeros((y2 - y1, x2 - x1), dtype=np.uint8)
    cv2.fillPoly(mask, [_fixed(shadow - (x1, y1))], 255, cv2.LINE_AA, _SHIFT)
    patch = frame[y1:y2, x1:x2].astype(np.float32) * (1.0 - 0.45 * mask[:, :, None] / 255.0)
    frame[y1:y2, x1:x2] = (patch + 0.5).astype(np.uint8)
    colour = COLOURS_RGB[car.colour]
    cv2.fillPoly(frame, [_fixed(poly)], colour, cv2.LINE_AA, _SHIFT)
    dark = tuple(int(0.25 * v + 25) for v in colour)
    for window in _WINDOWS:
        pts = world_to_image(pose, place_polygon(window, np.array([car.x, car.y]), length, car.heading), scene.config)
        cv2.fillPoly(frame, [_fixed(pts)], dark, cv2.LINE_AA, _SHIFT)


def _draw_tree(frame: np.ndarray, scene: FollowScene, pose: CameraPose, tree: Tree) -> None:
    k = scene.config.focal_px / pose.altitude
    centre = world_to_image(pose, np.array([[tree.x, tree.y]]), scene.config)[0]
    h, w = frame.shape[:2]
    reach = tree.radius * k
    if centre[0] + reach < 0 or centre[0] - reach > w or centre[1] + reach < 0 or centre[1] - reach > h:
        return
    circles = world_to_image(pose, tree.circles[:, :2] + (tree.x, tree.y), scene.config)
    for (u, v), r, shade in zip(circles, tree.circles[:, 2], tree.shades):
        centre_px = _fixed(np.array([u, v]))
        colour = (30.0 * shade, 70.0 * shade, 30.0 * shade)
        cv2.circle(frame, (int(centre_px[0]), int(centre_px[1])), int(round(r * k * _SUB)), colour, -1,
                   cv2.LINE_AA, _SHIFT)


def _under_tree(scene: FollowScene, car: Car) -> bool:
    for tree in scene.trees:
        d = np.hypot(tree.x + tree.circles[:, 0] - car.x, tree.y + tree.circles[:, 1] - car.y)
        if np.any(d < tree.circles[:, 2]):
            return True
    return False


def view_truth(scene: FollowScene, pose: CameraPose, t: float) -> ViewTruth:
    """Ground truth of the target in the image taken from ``pose`` at time ``t`` (no rendering)."""
    cfg = scene.config
    car = scene.target_at(t)
    poly = world_to_image(pose, _car_polygon(car, cfg.target_length), cfg)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
    cx, cy = (lo + hi) / 2.0
    half_w, half_h = cfg.frame_width / 2.0, cfg.frame_height / 2.0
    in_view = bool(0.0 <= cx < cfg.frame_width and 0.0 <= cy < cfg.frame_height)
    return ViewTruth(box, (cx - half_w) / half_w, (cy - half_h) / half_h, in_view, _under_tree(scene, car))


def render_view(scene: FollowScene, pose: CameraPose, t: float) -> tuple[np.ndarray, ViewTruth]:
    """The RGB uint8 image ``(H, W, 3)`` seen from ``pose`` at time ``t``, and the target's truth."""
    cfg = scene.config
    frame = cv2.warpAffine(scene.texture, _texture_map(scene, pose), (cfg.frame_width, cfg.frame_height),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    for car in (*scene.parked, scene.target_at(t)):
        _draw_car(frame, scene, pose, car)
    for tree in scene.trees:
        _draw_tree(frame, scene, pose, tree)
    return frame, view_truth(scene, pose, t)
