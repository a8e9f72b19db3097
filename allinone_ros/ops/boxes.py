"""Box checks and conversions in image pixels (top-left origin): clipping, the part inside the
image, the centre offset, the mask of non-empty boxes.

Names carry the format: ``box_xywh`` = (x, y, w, h), ``box_cxcywh`` = (cx, cy, w, h).
"""
from __future__ import annotations

import numpy as np


def nonempty_mask(boxes_xywh: np.ndarray) -> np.ndarray:
    """(N,) True where a row of the (N, 4) ``boxes_xywh`` is finite with w > 0 and h > 0."""
    finite = np.all(np.isfinite(boxes_xywh), axis=1)
    with np.errstate(invalid="ignore"):
        return finite & (boxes_xywh[:, 2] > 0) & (boxes_xywh[:, 3] > 0)


def clip_box(box_xywh: np.ndarray, img_h: int, img_w: int, margin: int = 10) -> np.ndarray:
    """Clip a box into the image keeping at least ``margin`` pixels of size, as the release does."""
    x1, y1, w, h = (float(v) for v in box_xywh)
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0.0, x1), img_w - margin)
    x2 = min(max(float(margin), x2), img_w)
    y1 = min(max(0.0, y1), img_h - margin)
    y2 = min(max(float(margin), y2), img_h)
    w = max(float(margin), x2 - x1)
    h = max(float(margin), y2 - y1)
    return np.array([x1, y1, w, h], dtype=np.float64)


def box_inside_image(box_xywh: np.ndarray, img_h: int, img_w: int, min_size: float = 1.0) -> np.ndarray | None:
    """The part of ``box_xywh`` inside the ``img_w`` x ``img_h`` image, or None when under ``min_size`` px a side."""
    x1, y1, w, h = (float(v) for v in box_xywh)
    x2, y2 = min(x1 + w, float(img_w)), min(y1 + h, float(img_h))
    x1, y1 = max(x1, 0.0), max(y1, 0.0)
    if x2 - x1 < min_size or y2 - y1 < min_size:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float64)


def centre_offset(box_xywh: object, width: int, height: int) -> tuple[float, float]:
    """Box centre relative to the image centre, in [-1, 1] (+x right, +y down; clipped), as
    ``TrackedTarget.offset_x`` / ``offset_y`` define it."""
    x, y, w, h = (float(v) for v in box_xywh)  # type: ignore[attr-defined]
    half_w, half_h = width / 2.0, height / 2.0
    ox = (x + w / 2.0 - half_w) / half_w
    oy = (y + h / 2.0 - half_h) / half_h
    return float(np.clip(ox, -1.0, 1.0)), float(np.clip(oy, -1.0, 1.0))
