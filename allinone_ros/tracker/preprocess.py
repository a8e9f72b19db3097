"""Checks of the images and boxes given to the tracker (errors name the values)."""
from __future__ import annotations

import math

import numpy as np


class InputError(ValueError):
    """An image or box given to the tracker is unusable; the message names the value."""


def check_image(image: np.ndarray) -> tuple[int, int]:
    """Require an HxWx3 uint8 RGB array; return (H, W)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be HxWx3 uint8 RGB, got shape {image.shape} dtype {image.dtype}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise InputError(f"image is empty ({w}x{h})")
    return h, w


MIN_BOX_SIDE_PX = 1.0  # a box narrower or lower than one pixel names no object


def check_box_values(box_xywh: object) -> tuple[float, float, float, float]:
    """Require four finite numbers x, y, w, h with w, h >= :data:`MIN_BOX_SIDE_PX` (no image needed)."""
    try:
        vals = [float(v) for v in box_xywh]  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InputError(f"box must be 4 numbers x,y,w,h, got {box_xywh!r}") from exc
    if len(vals) != 4:
        raise InputError(f"box must have 4 values x,y,w,h, got {len(vals)}: {vals}")
    x, y, w, h = vals
    if not all(math.isfinite(v) for v in vals):
        raise InputError(f"box has non-finite values: {vals}")
    if not (w >= MIN_BOX_SIDE_PX and h >= MIN_BOX_SIDE_PX):
        raise InputError(f"box width and height must be >= {MIN_BOX_SIDE_PX:g} px, got w={w}, h={h}")
    return x, y, w, h


def check_box(box_xywh: object, img_h: int, img_w: int) -> tuple[float, float, float, float]:
    """:func:`check_box_values`, and the box must overlap the ``img_w`` x ``img_h`` image."""
    x, y, w, h = check_box_values(box_xywh)
    if x >= img_w or y >= img_h or x + w <= 0 or y + h <= 0:
        raise InputError(f"box {[x, y, w, h]} lies outside the {img_w}x{img_h} image")
    return x, y, w, h
