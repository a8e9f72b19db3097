"""Constant-velocity prediction of the target's box between frames."""
from __future__ import annotations

import math

import numpy as np


def box_centre(box_xywh: np.ndarray) -> np.ndarray:
    return np.array([box_xywh[0] + box_xywh[2] / 2.0, box_xywh[1] + box_xywh[3] / 2.0])  # (2,) cx, cy


def box_size(box_xywh: np.ndarray) -> float:
    """Geometric mean side ``sqrt(w * h)`` (at least 1 px)."""
    return max(math.sqrt(max(float(box_xywh[2]), 0.0) * max(float(box_xywh[3]), 0.0)), 1.0)


class MotionModel:
    """Smoothed centre velocity of the boxes reported TRACKING; predicts where the target should be."""

    def __init__(self, box_xywh: np.ndarray, smoothing: float, size_smoothing: float) -> None:
        self.box_xywh = np.asarray(box_xywh, dtype=np.float64).copy()  # (4,) last tracked box
        self.velocity = np.zeros(2)  # (2,) px per frame
        self.size = box_size(self.box_xywh)  # recent target size sqrt(w * h), smoothed
        self.smoothing = float(smoothing)
        self.size_smoothing = float(size_smoothing)
        self.frames_since = 0  # frames since box_xywh was observed

    def predict(self, frames_ahead: int | None = None) -> np.ndarray:
        """Box ``frames_ahead`` frames after the last observation (default: the next frame)."""
        k = self.frames_since + 1 if frames_ahead is None else frames_ahead
        k = min(k, 10)  # a velocity is not trusted for long
        box = self.box_xywh.copy()
        box[:2] += self.velocity * k
        return box

    def distance(self, box_xywh: np.ndarray, anchor_xywh: np.ndarray | None = None) -> float:
        """Centre distance of ``box_xywh`` from ``anchor_xywh`` (default: the prediction for now), in target sizes."""
        anchor = self.predict(self.frames_since) if anchor_xywh is None else anchor_xywh
        return float(np.linalg.norm(box_centre(box_xywh) - box_centre(anchor))) / self.size

    def speed(self) -> float:
        """Current speed in target sizes per frame."""
        return float(np.linalg.norm(self.velocity)) / self.size

    def scale_ratio(self, box_xywh: np.ndarray) -> float:
        """How many times larger or smaller than the recent target size ``box_xywh`` is (>= 1)."""
        ratio = box_size(box_xywh) / self.size
        return max(ratio, 1.0 / ratio)

    def observe(self, box_xywh: np.ndarray) -> None:
        box = np.asarray(box_xywh, dtype=np.float64)
        step = (box_centre(box) - box_centre(self.box_xywh)) / (self.frames_since + 1)
        self.velocity = (1.0 - self.smoothing) * self.velocity + self.smoothing * step
        self.box_xywh = box.copy()
        self.size = (1.0 - self.size_smoothing) * self.size + self.size_smoothing * box_size(box)
        self.frames_since = 0

    def miss(self) -> None:
        self.frames_since += 1

    def restart(self, box_xywh: np.ndarray, velocity: np.ndarray | None = None) -> None:
        """Start again from ``box_xywh`` (found again), moving at ``velocity`` px per frame when known,
        else as it moved before it was lost."""
        self.box_xywh = np.asarray(box_xywh, dtype=np.float64).copy()
        if velocity is not None:
            self.velocity = np.asarray(velocity, dtype=np.float64).copy()  # (2,)
        self.size = box_size(self.box_xywh)
        self.frames_since = 0
