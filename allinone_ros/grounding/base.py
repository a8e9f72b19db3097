"""Grounder protocol, candidates and settings."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..ops.devices import validate_device


class GroundingModelError(RuntimeError):
    """A grounding model directory is missing, incomplete or of an unsupported kind."""


@dataclass(frozen=True)
class Candidate:
    """One detection of the sentence's object: ``box_xywh`` in image pixels, score in [0, 1]."""

    box_xywh: np.ndarray  # (4,) float64 x, y, w, h in pixels of the input image
    score: float
    label: str


@runtime_checkable
class Grounder(Protocol):
    """``ground(image_rgb, sentence)`` -> candidates sorted by score, best first (may be empty)."""

    def ground(self, image_rgb: np.ndarray, sentence: str) -> list[Candidate]: ...


@runtime_checkable
class Verifier(Protocol):
    """A grounder that can also check given boxes: ``verify(image_rgb, boxes_xywh, sentence)`` -> the
    probability that each box shows the sentence's object (``can_verify`` False: it cannot)."""

    @property
    def can_verify(self) -> bool: ...

    def verify(self, image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], sentence: str) -> list[float]: ...


def sort_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates by descending score (stable for equal scores)."""
    return sorted(candidates, key=lambda c: -c.score)


@dataclass(frozen=True)
class GrounderConfig:
    """Settings of :class:`TransformersGrounder`.

    ``score_threshold``: keep detections whose score is strictly above it (1.0 keeps none).
    ``text_threshold``: Grounding DINO only, token score needed for a word to enter a label.
    ``max_candidates``: keep at most this many, best first.
    ``min_box_size``: drop boxes narrower or lower than this (pixels, after clipping to the image).
    """

    score_threshold: float = 0.3
    text_threshold: float = 0.25
    max_candidates: int = 20
    min_box_size: float = 2.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("score_threshold", "text_threshold"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if not isinstance(self.max_candidates, int) or self.max_candidates < 1:
            raise ValueError(f"max_candidates must be an integer >= 1, got {self.max_candidates!r}")
        if not (math.isfinite(self.min_box_size) and self.min_box_size >= 0):
            raise ValueError(f"min_box_size must be >= 0 pixels, got {self.min_box_size!r}")
        validate_device(self.device)
