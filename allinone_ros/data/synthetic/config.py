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
# Look-alikes placed next to the target (SyntheticConfig.lookalike_kinds): one of the target's
# shape in another colour, one of its colour in another shape, or several of both at once.
LOOKALIKE_KINDS: tuple[str, ...] = ("same_shape", "same_colour", "mixed")
ABSENCE_KINDS: tuple[str, ...] = ("occlusion", "out_of_view")

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

    Options that leave every other sequence byte-identical when off (each draws from its own
    random stream, :func:`variant_rng`):

    * ``lookalike_kinds``: per sequence one kind is drawn from this tuple and its look-alikes are
      added next to the target in the first frame, after the usual distractors: ``same_shape``
      (the target's shape, another colour), ``same_colour`` (the target's colour, another shape),
      ``mixed`` (two to three at once: one of each, plus one more of either);
    * ``relation_sentence``: the sentence always relates the target to the object next to it
      (the first look-alike, else the first distractor): ``"the red car left of the red circle"``;
    * ``absent_sentence``: ``nlp.txt`` names a colour/shape combination that no object of the scene
      has (the target's shape in a missing colour or its colour on a missing shape);
      ``meta.json`` then has ``absent_sentence: true`` and the target's own sentence in
      ``target_sentence``; the ground truth stays the target's;
    * ``absence``: one episode of ``absence_frames`` (inclusive range) consecutive frames in the
      middle of the sequence where the target is fully occluded (an opaque cloud settles on it) or
      out of view (it leaves the frame), the kind drawn from ``absence_kinds``; the random
      occlusion and out-of-view spells are then off. Flags as usual, the episode in
      ``meta.json`` (``phenomena.absence``).
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
    lookalike_kinds: tuple[str, ...] = ()
    relation_sentence: bool = False
    absent_sentence: bool = False
    absence: bool = False
    absence_frames: tuple[int, int] = (12, 30)
    absence_kinds: tuple[str, ...] = ABSENCE_KINDS

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
        self._check_variants()

    def _check_variants(self) -> None:
        if self.lookalike_kinds:
            _check_subset("lookalike_kinds", self.lookalike_kinds, LOOKALIKE_KINDS)
            if len(set(self.shapes)) < 2 or len(set(self.colours)) < 2:
                raise ValueError(f"lookalike_kinds need at least two shapes and two colours, got "
                                 f"shapes={self.shapes}, colours={self.colours}")
        if self.relation_sentence and not (self.lookalike_kinds or self.same_shape_distractor
                                           or self.num_distractors_range[0] >= 1):
            raise ValueError(f"relation_sentence needs an object to relate to: lookalike_kinds, "
                             f"same_shape_distractor or num_distractors_range[0] >= 1, got "
                             f"num_distractors_range={self.num_distractors_range}")
        lo, hi = self.absence_frames
        if isinstance(lo, bool) or isinstance(hi, bool) or not 1 <= lo <= hi:
            raise ValueError(f"absence_frames must satisfy 1 <= lo <= hi, got {self.absence_frames}")
        _check_subset("absence_kinds", self.absence_kinds, ABSENCE_KINDS)
        if self.absence and self.num_frames < absence_min_frames(hi, self.num_frames):
            raise ValueError(f"absence needs num_frames >= {absence_min_frames(hi, self.num_frames)} for episodes of up "
                             f"to {hi} frames (absence_frames={self.absence_frames}), got {self.num_frames}")


def _check_subset(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ValueError(f"{name} must not be empty")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name} {unknown}; allowed: {list(allowed)}")


def absence_ramp(num_frames: int) -> int:
    """Frames the target takes to leave the frame (or a cloud to settle on it) around an absence."""
    return max(3, round(0.08 * num_frames))


def absence_min_frames(longest: int, num_frames: int) -> int:
    """Shortest sequence that holds a centred absence of ``longest`` frames with entry and exit."""
    return longest + 2 * absence_ramp(num_frames) + 6


def sequence_rng(seed: int, number: int) -> np.random.Generator:
    """The generator of sequence ``number`` (1-based), independent of how many are made."""
    if number < 1:
        raise ValueError(f"sequence number must be >= 1, got {number}")
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(number,)))


# Stream ids of the optional variants: each draws from its own generator, so switching one on
# leaves the draws of the base scene (and of the other variants) unchanged.
VARIANT_STREAMS: dict[str, int] = {"lookalikes": 1, "absent_sentence": 2, "absence": 3}


def variant_rng(seed: int, number: int, variant: str) -> np.random.Generator:
    """The generator of an optional variant (``VARIANT_STREAMS``) of sequence ``number``."""
    if number < 1:
        raise ValueError(f"sequence number must be >= 1, got {number}")
    if variant not in VARIANT_STREAMS:
        raise ValueError(f"unknown variant stream {variant!r}; known: {list(VARIANT_STREAMS)}")
    key = (number, VARIANT_STREAMS[variant])
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))
