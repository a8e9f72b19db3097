"""Colour appearance of a box: hue-saturation histograms and their similarity."""
from __future__ import annotations

import math

import cv2
import numpy as np


def appearance_histogram(image_rgb: np.ndarray, box_xywh: np.ndarray, bins: tuple[int, int, int] = (12, 4, 4),
                         inner: float = 0.7) -> np.ndarray:
    """Hue-saturation-value histogram of the box's central part (``inner`` of each side, clipped to the
    image), summing to 1 (zeros if empty). The centre holds the object, the border mostly background."""
    img_h, img_w = image_rgb.shape[:2]
    x, y, w, h = (float(v) for v in box_xywh)
    x, y = x + w * (1.0 - inner) / 2.0, y + h * (1.0 - inner) / 2.0
    w, h = w * inner, h * inner
    x1, y1 = max(int(math.floor(x)), 0), max(int(math.floor(y)), 0)
    x2, y2 = min(int(math.ceil(x + w)), img_w), min(int(math.ceil(y + h)), img_h)
    hist = np.zeros(int(np.prod(bins)), dtype=np.float64)
    if x2 <= x1 or y2 <= y1:
        return hist
    hsv = cv2.cvtColor(np.ascontiguousarray(image_rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2HSV)
    raw = cv2.calcHist([hsv], [0, 1, 2], None, [int(b) for b in bins], [0, 180, 0, 256, 0, 256]).reshape(-1)
    total = float(raw.sum())
    return raw.astype(np.float64) / total if total > 0 else hist


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Histogram intersection of two normalised histograms, in [0, 1] (1: same colour distribution)."""
    return float(np.minimum(a, b).sum())
