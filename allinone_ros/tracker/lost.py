"""Opt-in lost-target state machine around :class:`Tracker`: start and recover from a sentence.

States: IDLE -> GROUNDING (no box yet: ask the grounder each frame) -> TRACKING -> LOST
(local re-search with an enlarged search region, re-grounding every K frames) -> TRACKING.

Lost signal. A frame is *bad* when the tracker's confidence (peak of its score map) is below
``lost_threshold`` or, with ``appearance_threshold > 0``, when the colour-histogram similarity
of the tracked box to the first template is below ``appearance_threshold``. The appearance check
exists because the score-map peak alone is a poor lost signal for some models (a random-weight or
poorly trained network gives a flat, constant peak). On a bad frame a grounder, when given and
``correct_with_grounder`` is set, is asked at once; a candidate that passes the recovery checks
replaces the tracker's box and the frame counts as good. ``lost_patience`` bad frames in a row
make the target LOST; while LOST no box is reported.

Recovery. A candidate (each grounder detection on re-grounding frames, plus the tracker's own
local re-search) is accepted when its score (grounder: sentence score; local search: tracker
confidence) reaches ``recover_threshold`` and its appearance similarity reaches
``appearance_threshold``; among accepted candidates the one most similar to the first template
wins (the highest score when appearance is disabled). ``recover_patience`` consecutive frames with
an accepted candidate overlapping the previous one (IoU >= ``recover_iou``) bring back TRACKING.
The tracker keeps its first template; only its search position is moved to the recovered box.
"""
from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..grounding.base import Candidate, Grounder
from .preprocess import InputError, check_box, check_image
from .tracker import Tracker

log = logging.getLogger(__name__)


class TrackState(str, enum.Enum):
    IDLE = "idle"
    GROUNDING = "grounding"
    TRACKING = "tracking"
    LOST = "lost"


@dataclass(frozen=True)
class LostConfig:
    lost_threshold: float = 0.3  # tracker confidence below this -> bad frame
    lost_patience: int = 3  # bad frames in a row -> LOST
    recover_threshold: float = 0.3  # grounder score / tracker confidence a re-acquired candidate needs
    recover_patience: int = 2  # frames in a row with an accepted candidate -> TRACKING again
    recover_iou: float = 0.3  # consecutive accepted candidates must overlap this much
    ground_threshold: float = 0.3  # grounder score needed to start from the sentence alone
    search_growth: float = 1.25  # search factor multiplier per LOST frame ...
    max_search_factor: float = 8.0  # ... up to this factor
    reground_every: int = 5  # while LOST, run the grounder on the 1st LOST frame and every K-th after
    appearance_threshold: float = 0.5  # histogram intersection with the first template; 0 disables
    correct_with_grounder: bool = True  # on a bad TRACKING frame, ask the grounder before counting it
    histogram_bins: tuple[int, int] = (18, 8)  # hue, saturation bins

    def __post_init__(self) -> None:
        for name in ("lost_threshold", "recover_threshold", "recover_iou", "ground_threshold", "appearance_threshold"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name in ("lost_patience", "recover_patience", "reground_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (math.isfinite(self.search_growth) and self.search_growth >= 1.0):
            raise ValueError(f"search_growth must be >= 1, got {self.search_growth!r}")
        if not (math.isfinite(self.max_search_factor) and self.max_search_factor > 0):
            raise ValueError(f"max_search_factor must be > 0, got {self.max_search_factor!r}")
        if len(self.histogram_bins) != 2 or any(int(b) < 1 for b in self.histogram_bins):
            raise ValueError(f"histogram_bins must be two integers >= 1 (hue, saturation), got {self.histogram_bins!r}")


@dataclass(frozen=True)
class ManagedResult:
    state: TrackState
    box_xywh: np.ndarray | None  # (4,) pixels; None unless state is TRACKING
    confidence: float  # tracker confidence, or the grounder score when the box came from the grounder
    frame_index: int  # frames since start(), start frame = 0
    similarity: float | None = None  # appearance similarity to the first template (None: not computed)
    source: str = "none"  # "init" | "grounder" | "tracker" | "local_search" | "none"
    search_factor: float | None = None  # search factor used by the tracker on this frame


def appearance_histogram(image_rgb: np.ndarray, box_xywh: np.ndarray, bins: tuple[int, int] = (18, 8)) -> np.ndarray:
    """Hue-saturation histogram of the box region (clipped to the image), summing to 1 (zeros if empty)."""
    img_h, img_w = image_rgb.shape[:2]
    x, y, w, h = (float(v) for v in box_xywh)
    x1, y1 = max(int(math.floor(x)), 0), max(int(math.floor(y)), 0)
    x2, y2 = min(int(math.ceil(x + w)), img_w), min(int(math.ceil(y + h)), img_h)
    hist = np.zeros(int(bins[0]) * int(bins[1]), dtype=np.float64)
    if x2 <= x1 or y2 <= y1:
        return hist
    hsv = cv2.cvtColor(np.ascontiguousarray(image_rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2HSV)
    raw = cv2.calcHist([hsv], [0, 1], None, [int(bins[0]), int(bins[1])], [0, 180, 0, 256]).reshape(-1)
    total = float(raw.sum())
    return raw.astype(np.float64) / total if total > 0 else hist


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Histogram intersection of two normalised histograms, in [0, 1] (1: same colour distribution)."""
    return float(np.minimum(a, b).sum())


def box_iou(a_xywh: np.ndarray, b_xywh: np.ndarray) -> float:
    ax, ay, aw, ah = (float(v) for v in a_xywh)
    bx, by, bw, bh = (float(v) for v in b_xywh)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class _Scored:
    box_xywh: np.ndarray
    score: float
    similarity: float | None
    source: str


class ManagedTracker:
    """``start(image, sentence, box_xywh=None)``, then ``step(image)`` per frame, ``stop()``."""

    def __init__(self, tracker: Tracker, grounder: Grounder | None = None, config: LostConfig | None = None) -> None:
        self.tracker = tracker
        self.grounder = grounder
        self.config = config or LostConfig()
        self.stop()

    # -- public -------------------------------------------------------------------------------
    @property
    def state(self) -> TrackState:
        return self._state

    @property
    def sentence(self) -> str:
        return self._sentence

    def stop(self) -> None:
        """Forget the target; the next call must be :meth:`start`."""
        self._state = TrackState.IDLE
        self._sentence = ""
        self._template_hist: np.ndarray | None = None
        self._last_good_box: np.ndarray | None = None
        self._pending_box: np.ndarray | None = None
        self._bad = 0
        self._lost_frames = 0
        self._recover_count = 0
        self._frame = -1

    def start(self, image_rgb: np.ndarray, sentence: str, box_xywh: object | None = None) -> ManagedResult:
        """Begin on this frame: with a box track it at once, without one ground ``sentence`` first."""
        img_h, img_w = check_image(image_rgb)
        if not isinstance(sentence, str):
            raise InputError(f"sentence must be a string, got {type(sentence).__name__}")
        if box_xywh is None and not sentence.strip():
            raise InputError(f"starting without a box needs a non-empty sentence, got {sentence!r}")
        if box_xywh is None and self.grounder is None:
            raise InputError("starting without a box needs a grounder; pass box_xywh or give ManagedTracker a grounder")
        self.stop()
        self._sentence = sentence
        self._frame = 0
        if box_xywh is not None:
            box = np.asarray(check_box(box_xywh, img_h, img_w), dtype=np.float64)
            return self._begin(image_rgb, box, 1.0, "init")
        self._state = TrackState.GROUNDING
        return self._try_ground_start(image_rgb)

    def step(self, image_rgb: np.ndarray) -> ManagedResult:
        if self._state is TrackState.IDLE:
            raise RuntimeError("step() before start() (or after stop())")
        check_image(image_rgb)
        self._frame += 1
        if self._state is TrackState.GROUNDING:
            return self._try_ground_start(image_rgb)
        if self._state is TrackState.TRACKING:
            return self._step_tracking(image_rgb)
        return self._step_lost(image_rgb)

    # -- states -------------------------------------------------------------------------------
    def _begin(self, image_rgb: np.ndarray, box: np.ndarray, score: float, source: str) -> ManagedResult:
        self.tracker.initialize(image_rgb, box, self._sentence)
        self._template_hist = appearance_histogram(image_rgb, box, self.config.histogram_bins)
        self._last_good_box = box.copy()
        self._state = TrackState.TRACKING
        log.info("tracking '%s' from %s box %s", self._sentence, source, np.round(box, 1).tolist())
        return ManagedResult(TrackState.TRACKING, box.copy(), float(score), self._frame, 1.0, source,
                             self.tracker.config.search_factor)

    def _try_ground_start(self, image_rgb: np.ndarray) -> ManagedResult:
        assert self.grounder is not None
        cands = [c for c in self.grounder.ground(image_rgb, self._sentence) if c.score >= self.config.ground_threshold]
        if not cands:
            return ManagedResult(TrackState.GROUNDING, None, 0.0, self._frame)
        best = max(cands, key=lambda c: c.score)
        return self._begin(image_rgb, np.asarray(best.box_xywh, dtype=np.float64), best.score, "grounder")

    def _similarity(self, image_rgb: np.ndarray, box: np.ndarray) -> float | None:
        if self.config.appearance_threshold <= 0 or self._template_hist is None:
            return None
        return histogram_similarity(self._template_hist, appearance_histogram(image_rgb, box, self.config.histogram_bins))

    def _accepts(self, cand: _Scored) -> bool:
        if cand.score < self.config.recover_threshold:
            return False
        return cand.similarity is None or cand.similarity >= self.config.appearance_threshold

    def _best(self, cands: list[_Scored]) -> _Scored | None:
        """The accepted candidate most like the first template (highest score without appearance)."""
        ok = [c for c in cands if self._accepts(c)]
        if not ok:
            return None
        return max(ok, key=lambda c: (c.similarity if c.similarity is not None else -1.0, c.score))

    def _grounded(self, image_rgb: np.ndarray) -> list[_Scored]:
        if self.grounder is None:
            return []
        found: list[Candidate] = self.grounder.ground(image_rgb, self._sentence)
        out = []
        for c in found:
            box = np.asarray(c.box_xywh, dtype=np.float64)
            out.append(_Scored(box, float(c.score), self._similarity(image_rgb, box), "grounder"))
        return out

    def _step_tracking(self, image_rgb: np.ndarray) -> ManagedResult:
        res = self.tracker.track(image_rgb)
        box, sim = res.box_xywh, self._similarity(image_rgb, res.box_xywh)
        good = res.confidence >= self.config.lost_threshold and (sim is None or sim >= self.config.appearance_threshold)
        conf, source = res.confidence, "tracker"
        if not good and self.grounder is not None and self.config.correct_with_grounder:
            best = self._best(self._grounded(image_rgb))
            if best is not None:
                box, sim, conf, source, good = best.box_xywh, best.similarity, best.score, "grounder", True
                self.tracker.state.box_xywh = box.copy()  # type: ignore[union-attr]
        factor = self.tracker.config.search_factor
        if good:
            self._bad = 0
            self._last_good_box = box.copy()
            return ManagedResult(TrackState.TRACKING, box.copy(), conf, self._frame, sim, source, factor)
        self._bad += 1
        if self._bad < self.config.lost_patience:
            return ManagedResult(TrackState.TRACKING, box.copy(), conf, self._frame, sim, source, factor)
        log.info("target lost at frame %d (confidence %.3f, similarity %s)", self._frame, res.confidence, sim)
        self._state = TrackState.LOST
        self._lost_frames = 0
        self._recover_count = 0
        self._pending_box = None
        return ManagedResult(TrackState.LOST, None, conf, self._frame, sim, "none", factor)

    def _step_lost(self, image_rgb: np.ndarray) -> ManagedResult:
        cfg = self.config
        self._lost_frames += 1
        base = self.tracker.config.search_factor
        factor = min(base * cfg.search_growth ** self._lost_frames, max(cfg.max_search_factor, base))
        centre = self._pending_box if self._pending_box is not None else self._last_good_box
        assert centre is not None and self.tracker.state is not None
        # Local re-search around the last good (or pending) box with an enlarged search region.
        self.tracker.state.box_xywh = centre.copy()
        res = self.tracker.track(image_rgb, search_factor=factor)
        cands = [_Scored(res.box_xywh, res.confidence, self._similarity(image_rgb, res.box_xywh), "local_search")]
        if (self._lost_frames - 1) % cfg.reground_every == 0:
            cands += self._grounded(image_rgb)
        best = self._best(cands)
        if best is not None and (self._pending_box is None or box_iou(best.box_xywh, self._pending_box) >= cfg.recover_iou):
            self._recover_count += 1
            self._pending_box = best.box_xywh.copy()
        elif best is not None:  # accepted but somewhere else: start counting again there
            self._recover_count = 1
            self._pending_box = best.box_xywh.copy()
        else:
            self._recover_count = 0
            self._pending_box = None
        self.tracker.state.box_xywh = (self._pending_box if self._pending_box is not None else centre).copy()
        if best is None or self._recover_count < cfg.recover_patience:
            return ManagedResult(TrackState.LOST, None, best.score if best else res.confidence, self._frame,
                                 best.similarity if best else None, "none", factor)
        log.info("target re-acquired at frame %d by %s (score %.3f, similarity %s)", self._frame, best.source,
                 best.score, best.similarity)
        self._state = TrackState.TRACKING
        self._bad = 0
        self._last_good_box = best.box_xywh.copy()
        self._pending_box = None
        return ManagedResult(TrackState.TRACKING, best.box_xywh.copy(), best.score, self._frame, best.similarity,
                             best.source, factor)
