"""Photometric and flip augmentation of training pairs (seeded by a passed ``np.random.Generator``).

As in OSTrack's training transforms: grayscale with a small probability (applied to both crops
of a pair), brightness jitter (each crop multiplied by its own factor drawn uniformly from
``[max(0, 1 - b), 1 + b]``, then clipped to [0, 255]). A horizontal flip is optional and off by
default: it is applied to both crops and both boxes together, and it swaps the words "left" and
"right" in the sentence so that spatial descriptions stay true.

Random draws happen in a fixed order (grayscale, flip, template brightness, search brightness)
whatever the configuration, so one seed gives one stream. After a flip the pair's
``*_geometry`` and ``search_jittered_box_xywh`` still describe the unflipped crops in the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .sampling import TrainingPair

_LEFT_RIGHT = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")
_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths (defaults: brightness 0.2 and grayscale 0.05 as OSTrack; no flip)."""

    brightness_jitter: float = 0.2
    grayscale_prob: float = 0.05
    hflip_prob: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.brightness_jitter <= 1.0:
            raise ValueError(f"brightness_jitter must be in [0, 1], got {self.brightness_jitter}")
        for name in ("grayscale_prob", "hflip_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {image.shape} dtype {image.dtype}")


def adjust_brightness(image: np.ndarray, factor: float) -> np.ndarray:
    """``image * factor`` rounded and clipped to [0, 255] (uint8)."""
    _check_image(image)
    if not factor >= 0:
        raise ValueError(f"brightness factor must be >= 0, got {factor}")
    return np.clip(np.rint(image.astype(np.float32) * np.float32(factor)), 0, 255).astype(np.uint8)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """RGB -> luma, repeated on three channels."""
    _check_image(image)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def hflip_box_cxcywh(box_cxcywh: np.ndarray) -> np.ndarray:
    """Mirror a normalised ``box_cxcywh``: ``cx -> 1 - cx``."""
    out = np.array(box_cxcywh, copy=True)
    out[0] = 1.0 - out[0]
    return out


def hflip_box_xyxy(box_xyxy: np.ndarray) -> np.ndarray:
    """Mirror a normalised ``box_xyxy``: ``(x1, x2) -> (1 - x2, 1 - x1)``."""
    x1, y1, x2, y2 = box_xyxy
    return np.array([1.0 - x2, y1, 1.0 - x1, y2], dtype=np.asarray(box_xyxy).dtype)


def swap_left_right(sentence: str) -> str:
    """Exchange the whole words "left" and "right" (keeping their case)."""
    return _LEFT_RIGHT.sub(lambda m: _SWAP[m.group(0)], sentence)


def augment_pair(pair: TrainingPair, rng: np.random.Generator, config: AugmentConfig | None = None) -> TrainingPair:
    """An augmented copy of ``pair`` (the input is not modified)."""
    cfg = config if config is not None else AugmentConfig()
    gray_roll, flip_roll = rng.random(2)
    low = max(0.0, 1.0 - cfg.brightness_jitter)
    high = 1.0 + cfg.brightness_jitter
    t_factor, s_factor = rng.uniform(low, high, 2)

    template, search = pair.template, pair.search
    if gray_roll < cfg.grayscale_prob:
        template, search = to_grayscale(template), to_grayscale(search)
    changes: dict[str, object] = {}
    if flip_roll < cfg.hflip_prob:
        template = np.ascontiguousarray(template[:, ::-1])
        search = np.ascontiguousarray(search[:, ::-1])
        changes.update(
            template_box_cxcywh=hflip_box_cxcywh(pair.template_box_cxcywh),
            template_box_xyxy=hflip_box_xyxy(pair.template_box_xyxy),
            search_box_cxcywh=hflip_box_cxcywh(pair.search_box_cxcywh),
            search_box_xyxy=hflip_box_xyxy(pair.search_box_xyxy),
            sentence=swap_left_right(pair.sentence),
        )
    template = adjust_brightness(template, float(t_factor))
    search = adjust_brightness(search, float(s_factor))
    return replace(pair, template=template, search=search, **changes)  # type: ignore[arg-type]
