"""Reading frames from image files and videos as RGB arrays."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np


class FrameReadError(ValueError):
    """A frame file or video cannot be decoded."""


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Convert grayscale (HxW, HxWx1) and RGBA (HxWx4) uint8 frames to HxWx3 RGB."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return image


def _decoded_to_rgb(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return to_rgb(img)


def read_frame(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB (grayscale, RGBA and 16-bit are converted)."""
    path = Path(path)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise FrameReadError(f"cannot read frame {path} (missing, empty or not an image)")
    return _decoded_to_rgb(img)


def iter_video(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video file as RGB arrays."""
    path = Path(path)
    if not path.is_file():
        raise FrameReadError(f"video not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FrameReadError(f"cannot open video {path}")
    try:
        first = True
        while True:
            ok, frame = cap.read()
            if not ok:
                if first:
                    raise FrameReadError(f"video {path} has no decodable frames")
                return
            first = False
            yield _decoded_to_rgb(frame)
    finally:
        cap.release()
