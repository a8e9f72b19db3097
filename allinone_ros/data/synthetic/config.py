"""Constants and :class:`SyntheticConfig`: what the synthetic generator makes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

COLOURS_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "blue": (30, 70, 225),
    "green": (40, 200, 60),
    "yellow": (245, 220, 30),
    "white": (245, 245, 245),
    "black": (18, 18, 22),
    "orange": (250, 135, 20),
    "purple": (145, 45, 190),
}
SHAPES: tuple[str, ...] = ("car", "circle", "triangle", "cross", "diamond", "star")
BACKGROUNDS: tuple[str, ...] = ("fields", "roads", "urban")
DISTRACTOR_KINDS: tuple[str, ...] = ("same_shape", "same_colour", "other")

MIN_FRAMES_OUT_OF_VIEW = 20
MIN_FRAMES_OCCLUSION = 10
MIN_TARGET_PX = 6.0
# Every unit shape polygon fits inside this radius (car corner: sqrt(0.5^2 + 0.25^2) = 0.559).
SHAPE_RADIUS = 0.57
SCALE_RANGE = 1.6  # scale change keeps the target within [1/1.6, 1.6] x its first-frame size
_SHIFT = 4  # OpenCV sub-pixel bits for polygon drawing
_SUB = 1 << _SHIFT
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_SUN_OFFSET = 0.09  # shadow offset as a fraction of the object size

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate.

    ``target_size_range`` is the first-frame target size as a fraction of the frame's shorter
    side. ``occlusion_prob`` / ``out_of_view_prob`` are per-sequence probabilities (0 disables,
    1 forces). ``same_shape_distractor`` guarantees a distractor with the target's shape and
    another colour, placed next to the target in the first frame (the case that only the
    language -- the colour word -- disambiguates).
    """

    num_sequences: int = 8
    num_frames: int = 100
    frame_width: int = 640
    frame_height: int = 360
    seed: int = 0
    class_name: str = "uav"
    target_size_range: tuple[float, float] = (0.06, 0.12)
    camera_motion: bool = True
    target_motion: bool = True
    scale_change: bool = True
    occlusion_prob: float = 0.5
    out_of_view_prob: float = 0.3
    num_distractors_range: tuple[int, int] = (1, 3)
    same_shape_distractor: bool = False
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS_RGB)
    backgrounds: tuple[str, ...] = BACKGROUNDS
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if self.num_sequences < 1:
            raise ValueError(f"num_sequences must be >= 1, got {self.num_sequences}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {self.num_frames}")
        if self.frame_width < 64 or self.frame_height < 48:
            raise ValueError(f"frame size must be at least 64x48, got {self.frame_width}x{self.frame_height}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if not _NAME_RE.match(self.class_name):
            raise ValueError(f"class_name must match [A-Za-z0-9_]+, got {self.class_name!r}")
        lo, hi = self.target_size_range
        if not 0.0 < lo <= hi <= 0.3:
            raise ValueError(f"target_size_range must satisfy 0 < lo <= hi <= 0.3, got {self.target_size_range}")
        for name in ("occlusion_prob", "out_of_view_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        dlo, dhi = self.num_distractors_range
        if not 0 <= dlo <= dhi <= 6:
            raise ValueError(f"num_distractors_range must satisfy 0 <= lo <= hi <= 6, got {self.num_distractors_range}")
        _check_subset("shapes", self.shapes, SHAPES)
        _check_subset("colours", self.colours, tuple(COLOURS_RGB))
        _check_subset("backgrounds", self.backgrounds, BACKGROUNDS)
        if self.same_shape_distractor and len(set(self.colours)) < 2:
            raise ValueError(f"same_shape_distractor needs at least two colours, got colours={self.colours}")
        if (dhi > 0 or self.same_shape_distractor) and len(set(self.shapes)) * len(set(self.colours)) < 2:
            raise ValueError(
                f"distractors need another shape or colour than the target, got shapes={self.shapes}, "
                f"colours={self.colours}"
            )
        if self.out_of_view_prob > 0 and self.num_frames < MIN_FRAMES_OUT_OF_VIEW:
            raise ValueError(
                f"out_of_view_prob > 0 needs num_frames >= {MIN_FRAMES_OUT_OF_VIEW}, got {self.num_frames}"
            )
        if self.occlusion_prob > 0 and self.num_frames < MIN_FRAMES_OCCLUSION:
            raise ValueError(f"occlusion_prob > 0 needs num_frames >= {MIN_FRAMES_OCCLUSION}, got {self.num_frames}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")


def _check_subset(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ValueError(f"{name} must not be empty")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name} {unknown}; allowed: {list(allowed)}")


def sequence_rng(seed: int, number: int) -> np.random.Generator:
    """The generator of sequence ``number`` (1-based), independent of how many are made."""
    if number < 1:
        raise ValueError(f"sequence number must be >= 1, got {number}")
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(number,)))
