"""Scenes for the target-lifecycle tests: frames made here, a colour detector written here."""
from __future__ import annotations

import cv2
import numpy as np

from allinone_ros.grounding import Candidate

H, W = 240, 320
RED, BLUE, GREEN = (220, 30, 30), (40, 60, 220), (30, 180, 40)


def background(seed: int = 0) -> np.ndarray:
    """Smooth low-contrast texture (grass-like), H x W x 3 uint8."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 110, size=(H // 8, W // 8, 3)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC), (5, 5), 0)


def scene(n: int, hidden: range = range(0), distractors: tuple[tuple[tuple[int, int], tuple[int, int, int]], ...] = (),
          start: tuple[float, float] = (60.0, 100.0), velocity: tuple[float, float] = (3.0, 0.5), size: int = 26,
          colour: tuple[int, int, int] = RED, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """A square target moving at ``velocity``, absent on the ``hidden`` frames, and fixed distractor squares.

    Returns the frames and the true boxes (None where the target is absent).
    """
    base = background(seed)
    for (x, y), rgb in distractors:
        cv2.rectangle(base, (x, y), (x + size - 1, y + size - 1), rgb, -1)
    frames, boxes = [], []
    for t in range(n):
        img = base.copy()
        x, y = start[0] + velocity[0] * t, start[1] + velocity[1] * t
        if t in hidden:
            boxes.append(None)
        else:
            cv2.rectangle(img, (int(round(x)), int(round(y))), (int(round(x)) + size - 1, int(round(y)) + size - 1),
                          colour, -1)
            boxes.append(np.array([round(x), round(y), size, size], dtype=np.float64))
        frames.append(img)
    return frames, boxes


class ColourGrounder:
    """Finds squares of the colour the sentence names by thresholding (a real, simple detector).

    Score = the blob's fill of its box times how saturated the match is; "red", "blue", "green".
    """

    COLOURS = {"red": RED, "blue": BLUE, "green": GREEN}

    def __init__(self) -> None:
        self.calls = 0

    def ground(self, image_rgb: np.ndarray, sentence: str) -> list[Candidate]:
        self.calls += 1
        out = []
        for word, rgb in self.COLOURS.items():
            if word not in sentence.lower():
                continue
            ref = np.array(rgb, dtype=np.int32)
            mask = (np.abs(image_rgb.astype(np.int32) - ref).max(axis=2) < 40).astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            for x, y, w, h, area in stats[1:count]:
                if area >= 60:
                    out.append(Candidate(np.array([x, y, w, h], dtype=np.float64), 0.9 * area / (w * h), word))
        return sorted(out, key=lambda c: -c.score)


class ScaledGrounder(ColourGrounder):
    """:class:`ColourGrounder` with every score multiplied by ``factor`` (a less sure detector)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def ground(self, image_rgb: np.ndarray, sentence: str) -> list[Candidate]:
        return [Candidate(c.box_xywh, c.score * self.factor, c.label) for c in super().ground(image_rgb, sentence)]


class VerifyingColourGrounder(ColourGrounder):
    """:class:`ColourGrounder` that also verifies boxes: the share of the box's pixels in the named colour."""

    can_verify = True

    def verify(self, image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], sentence: str) -> list[float]:
        words = [rgb for word, rgb in self.COLOURS.items() if word in sentence.lower()]
        out = []
        for x, y, w, h in (np.round(b).astype(int) for b in boxes_xywh):
            patch = image_rgb[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)].astype(np.int32)
            share = max((float((np.abs(patch - np.array(rgb)).max(axis=2) < 40).mean()) for rgb in words
                         if patch.size), default=0.0)
            out.append(share)
        return out


class DoubtingGrounder(VerifyingColourGrounder):
    """A verifying grounder that finds no box showing the sentence: every match is 0."""

    def verify(self, image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], sentence: str) -> list[float]:
        return [0.0 for _ in boxes_xywh]


class HueGrounder(ColourGrounder):
    """Finds and verifies the named colour by hue and saturation at any brightness (red in the shade is
    still red): ground() as :class:`ColourGrounder` on that mask, verify() the share of the box in it."""

    can_verify = True

    def _mask(self, image_rgb: np.ndarray, sentence: str) -> np.ndarray:
        hsv = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2HSV).astype(np.int32)
        mask = np.zeros(image_rgb.shape[:2], dtype=bool)
        for word, rgb in self.COLOURS.items():
            if word in sentence.lower():
                hue = int(cv2.cvtColor(np.array([[rgb]], dtype=np.uint8), cv2.COLOR_RGB2HSV)[0, 0, 0])
                dist = np.abs(hsv[..., 0] - hue)
                mask |= (np.minimum(dist, 180 - dist) < 10) & (hsv[..., 1] > 128) & (hsv[..., 2] > 40)
        return mask

    def ground(self, image_rgb: np.ndarray, sentence: str) -> list[Candidate]:
        self.calls += 1
        count, _, stats, _ = cv2.connectedComponentsWithStats(self._mask(image_rgb, sentence).astype(np.uint8))
        out = [Candidate(np.array([x, y, w, h], dtype=np.float64), 0.9 * area / (w * h), "hue")
               for x, y, w, h, area in stats[1:count] if area >= 60]
        return sorted(out, key=lambda c: -c.score)

    def verify(self, image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], sentence: str) -> list[float]:
        mask = self._mask(image_rgb, sentence)
        out = []
        for x, y, w, h in (np.round(b).astype(int) for b in boxes_xywh):
            patch = mask[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)]
            out.append(float(patch.mean()) if patch.size else 0.0)
        return out


class DoubtOnGrounder(HueGrounder):
    """:class:`HueGrounder` whose verifier says 0 on the images given (by identity): a look-alike the
    tracker's template prefers, without having to draw one the small tracker reliably jumps to."""

    def __init__(self, doubted: list[np.ndarray]) -> None:
        super().__init__()
        self.doubted = doubted

    def verify(self, image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], sentence: str) -> list[float]:
        if any(image_rgb is d for d in self.doubted):
            return [0.0 for _ in boxes_xywh]
        return super().verify(image_rgb, boxes_xywh, sentence)
