"""Explicit tracker state and per-frame results."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..ops.crop import CropGeometry


@dataclass
class TrackerState:
    """Everything the tracker carries between frames."""

    box_xywh: np.ndarray  # (4,) float64, last output box in image pixels
    template: torch.Tensor  # (1, 3, Ht, Wt) normalised template crop
    lang: torch.Tensor  # (1, C) sentence vector
    text: str
    image_size: tuple[int, int]  # (H, W) of the last frame
    frame_index: int = 0


@dataclass(frozen=True)
class TrackResult:
    box_xywh: np.ndarray  # (4,) float64 pixels
    confidence: float  # peak of the raw score map, in [0, 1]
    crop: CropGeometry | None  # search crop this box came from (None on the init frame)
    frame_index: int
    timings_ms: dict[str, float] = field(default_factory=dict)
