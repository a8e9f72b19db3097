"""Square crops around a box and the map back to the image (the released tracker's conventions,
OSTrack family): used by the tracker, the device-side pre-processing and the training sampler.

All boxes are in pixels with a top-left origin. Names carry their format:
``box_xywh`` = (x, y, w, h), ``box_cxcywh`` = (cx, cy, w, h), ``box_xyxy`` = (x1, y1, x2, y2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropGeometry:
    """Where a square crop came from.

    ``side`` is the crop side in image pixels, ``x1``/``y1`` its (rounded) top-left corner,
    ``center_xy`` the box centre the crop was taken around, ``resize_factor = out_size / side``.
    """

    x1: int
    y1: int
    side: int
    out_size: int
    center_xy: tuple[float, float]

    @property
    def resize_factor(self) -> float:
        return self.out_size / self.side


def crop_side(box_xywh: tuple[float, float, float, float], factor: float) -> int:
    """Side of the square crop: ``ceil(sqrt(w*h) * factor)``."""
    _, _, w, h = box_xywh
    side = math.ceil(math.sqrt(w * h) * factor)
    if side < 1:
        raise ValueError(f"crop side must be >= 1 pixel, got {side} from box w={w}, h={h}, factor={factor}")
    return side


def crop_geometry(box_xywh: tuple[float, float, float, float], factor: float, out_size: int) -> CropGeometry:
    """Geometry of the square crop around ``box_xywh`` (Python ``round`` as in the release)."""
    x, y, w, h = (float(v) for v in box_xywh)
    side = crop_side((x, y, w, h), factor)
    cx, cy = x + 0.5 * w, y + 0.5 * h
    x1 = round(cx - side * 0.5)
    y1 = round(cy - side * 0.5)
    return CropGeometry(x1=int(x1), y1=int(y1), side=side, out_size=int(out_size), center_xy=(cx, cy))


def extract_crop(image: np.ndarray, geom: CropGeometry) -> np.ndarray:
    """Cut ``geom`` out of ``image`` (HxWxC uint8), zero-padding outside, and resize to ``out_size``.

    Reproduces the release: the far-side padding is ``max(x2 - W + 1, 0)``, so when the crop
    reaches past the last column/row that column/row is replaced by padding too.
    """
    if image.ndim != 3:
        raise ValueError(f"expected an HxWxC image, got shape {image.shape}")
    img_h, img_w, channels = image.shape
    x2 = geom.x1 + geom.side
    y2 = geom.y1 + geom.side
    # Source window: the far edge stops at W-1 / H-1 whenever the crop reaches the border.
    sx1, sy1 = max(geom.x1, 0), max(geom.y1, 0)
    sx2, sy2 = min(x2, img_w - 1), min(y2, img_h - 1)
    inside = sx1 == geom.x1 and sy1 == geom.y1 and sx2 == x2 and sy2 == y2
    if inside:
        patch = image[sy1:sy2, sx1:sx2]  # (side, side, C) view, no copy
    else:
        patch = np.zeros((geom.side, geom.side, channels), dtype=image.dtype)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - geom.y1 : sy2 - geom.y1, sx1 - geom.x1 : sx2 - geom.x1] = image[sy1:sy2, sx1:sx2]
    return cv2.resize(patch, (geom.out_size, geom.out_size))


def crop_square(
    image: np.ndarray, box_xywh: tuple[float, float, float, float], factor: float, out_size: int
) -> tuple[np.ndarray, CropGeometry]:
    """Square crop of side ``ceil(sqrt(w*h)*factor)`` centred on the box, resized to ``out_size``."""
    geom = crop_geometry(box_xywh, factor, out_size)
    return extract_crop(image, geom), geom


def map_box_back(box_cxcywh_crop: np.ndarray, geom: CropGeometry) -> np.ndarray:
    """Map a box in crop pixels (cx, cy, w, h at ``out_size`` scale) back to image ``box_xywh``.

    As in the release, the crop is assumed centred exactly on ``geom.center_xy`` (the rounding
    of the crop corner is ignored).
    """
    cx, cy, w, h = (float(v) / geom.resize_factor for v in box_cxcywh_crop)
    half = 0.5 * geom.side
    cx_img = cx + geom.center_xy[0] - half
    cy_img = cy + geom.center_xy[1] - half
    return np.array([cx_img - 0.5 * w, cy_img - 0.5 * h, w, h], dtype=np.float64)
