"""The node's track state machine around the core :class:`~allinone_ros.tracker.Tracker`.

Plain Python (no ROS import); used by the node's worker thread only (not thread-safe).

States (values equal ``allinone_ros/TrackedTarget`` STATE_* constants):

* ``IDLE``: nothing requested.
* ``WAITING_FOR_BOX``: a sentence arrived with no box and the node has no grounder
  (``grounder: none``), so it waits for a box; the sentence is kept and used when the box comes.
* ``GROUNDING``: a sentence arrived with no box; every image is searched for the sentence's
  object with the grounder until a candidate scores ``ground_threshold`` or more, which starts
  tracking on that image.
* ``TRACKING``: box and confidence describe the target.
* ``LOST``: the node's loss rule, not a core feature: ``lost_patience`` consecutive frames with
  confidence below ``lost_threshold`` switch to LOST. Tracking continues (the search follows
  the tracker's latest estimate); the published box is the last *confident* box (last known
  position) and the confidence is this frame's. The first confident frame switches back to
  TRACKING. With a grounder, the first LOST image and every ``reground_every``-th after it are
  re-grounded: among the candidates scoring ``ground_threshold`` or more, the one whose colours
  are most like the first template's (then the best score) becomes the search position and the
  image is tracked again from there.

Commands:

* sentence, no box: while TRACKING/LOST re-targets the language only (``Tracker.set_text``,
  the box and template are kept); otherwise -> GROUNDING (with a grounder) or WAITING_FOR_BOX.
* box (with or without sentence): (re)starts tracking from that box. With no sentence the
  track is language-free (empty sentence), except in WAITING_FOR_BOX, where the waiting
  sentence is used (the box completes the pending request).
  The box is applied to the image whose stamp the request names if ``frame_lookup`` still
  has it (then the newest image is tracked from there), otherwise to the next image.
* stop: -> IDLE, the track is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Callable

import numpy as np

from ..grounding.base import Candidate, Grounder
from ..tracker import InputError, Tracker
from ..tracker.lost import appearance_histogram, histogram_similarity
from .commands import Command, Start, Stop

Log = Callable[[str, str], None]  # (level: "info" | "warn", message)
FrameLookup = Callable[[int], "np.ndarray | None"]


class TrackState(IntEnum):
    IDLE = 0
    WAITING_FOR_BOX = 1
    TRACKING = 2
    LOST = 3
    GROUNDING = 4


@dataclass(frozen=True)
class FrameResult:
    """What the node publishes for one processed image."""

    state: TrackState
    box_xywh: tuple[float, float, float, float] | None  # None unless TRACKING / LOST
    confidence: float  # 0 unless TRACKING / LOST
    sentence: str
    image_size: tuple[int, int]  # (H, W)
    started: bool = False  # this image initialised the track


def centre_offset(box_xywh: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float]:
    """Box centre relative to the image centre, in [-1, 1] (+x right, +y down); clipped to [-1, 1]."""
    x, y, w, h = box_xywh
    half_w, half_h = width / 2.0, height / 2.0
    ox = (x + w / 2.0 - half_w) / half_w
    oy = (y + h / 2.0 - half_h) / half_h
    return float(np.clip(ox, -1.0, 1.0)), float(np.clip(oy, -1.0, 1.0))


def _no_log(level: str, message: str) -> None:
    pass


class TrackingSession:
    def __init__(self, tracker: Tracker, log: Log = _no_log, grounder: Grounder | None = None) -> None:
        self.tracker = tracker
        self.grounder = grounder
        self.log = log
        self._template_hist: np.ndarray | None = None
        self._lost_frames = 0
        self.state = TrackState.IDLE
        self.sentence = ""
        self._pending: Start | None = None  # a box to apply to the next image
        self._misses = 0
        self._last_good_box: tuple[float, float, float, float] | None = None

    # -- commands -----------------------------------------------------------------------------
    def apply(self, command: Command, frame_lookup: FrameLookup | None = None) -> None:
        """Apply a command between frames. A bad box raises :class:`InputError`; the state is kept."""
        if isinstance(command, Stop):
            self._stop(command.source)
        elif command.box_xywh is None:
            self._sentence_only(command.sentence)
        else:
            self._start_with_box(command, frame_lookup)

    def _stop(self, source: str) -> None:
        was = self.state
        self.state, self.sentence, self._pending = TrackState.IDLE, "", None
        self.tracker.state = None
        self.log("info", f"stopped ({source}); {was.name} -> IDLE")

    def _sentence_only(self, sentence: str) -> None:
        if self.state in (TrackState.TRACKING, TrackState.LOST):
            self.tracker.set_text(sentence)
            self.sentence = sentence
            self.log("info", f"re-targeted the running track to the sentence {sentence!r} (box kept)")
            return
        if self.grounder is not None:
            self.state, self.sentence, self._pending = TrackState.GROUNDING, sentence, None
            self.tracker.state = None
            self.log("info", f"GROUNDING: looking for {sentence!r} in the next images (no box given)")
            return
        self.state, self.sentence, self._pending = TrackState.WAITING_FOR_BOX, sentence, None
        self.log("info", f"WAITING_FOR_BOX: got the sentence {sentence!r} but no box and no grounder "
                         "(parameter grounder is 'none'); send a track_request with a box")

    def _start_with_box(self, command: Start, frame_lookup: FrameLookup | None) -> None:
        sentence = command.sentence
        if not sentence and self.state == TrackState.WAITING_FOR_BOX:
            sentence = self.sentence
        request = Start(sentence=sentence, box_xywh=command.box_xywh, stamp_ns=command.stamp_ns)
        frame = None
        if command.stamp_ns is not None and frame_lookup is not None:
            frame = frame_lookup(command.stamp_ns)
        if frame is None:
            self._pending = request
            where = "the next image" + (
                f" (no kept image has stamp {command.stamp_ns / 1e9:.9f})" if command.stamp_ns is not None else ""
            )
            self.log("info", f"box {list(command.box_xywh)} will be applied to {where}")
            return
        self._initialize(frame, request)  # raises InputError, state kept
        self.log("info", f"tracking started on the image stamped {command.stamp_ns / 1e9:.9f} "
                         f"with box {list(command.box_xywh)} and sentence {sentence!r}")

    def _initialize(self, image_rgb: np.ndarray, request: Start) -> None:
        assert request.box_xywh is not None
        result = self.tracker.initialize(image_rgb, request.box_xywh, request.sentence)
        self.state, self.sentence, self._pending = TrackState.TRACKING, request.sentence, None
        self._misses = 0
        self._lost_frames = 0
        self._last_good_box = tuple(float(v) for v in result.box_xywh)  # type: ignore[assignment]
        self._template_hist = appearance_histogram(image_rgb, np.asarray(result.box_xywh))

    # -- frames -------------------------------------------------------------------------------
    def process(self, image_rgb: np.ndarray, lost_threshold: float, lost_patience: int,
                ground_threshold: float = 0.3, reground_every: int = 5) -> FrameResult:
        """Track one image (or apply a pending box to it, or ground the sentence in it) and return what to publish."""
        size = (int(image_rgb.shape[0]), int(image_rgb.shape[1]))
        if self._pending is not None:
            request, self._pending = self._pending, None
            try:
                self._initialize(image_rgb, request)
            except InputError as exc:
                self.log("warn", f"track_request rejected: {exc}; state stays {self.state.name}")
            else:
                self.log("info", f"tracking started with box {list(request.box_xywh or ())} and sentence "
                                 f"{request.sentence!r}")
                return FrameResult(TrackState.TRACKING, self._last_good_box, 1.0, self.sentence, size, started=True)
        if self.state == TrackState.GROUNDING:
            return self._ground_start(image_rgb, ground_threshold, size)
        if self.state not in (TrackState.TRACKING, TrackState.LOST):
            return FrameResult(self.state, None, 0.0, self.sentence, size)
        result = self.tracker.track(image_rgb)
        box = tuple(float(v) for v in result.box_xywh)
        confidence = float(result.confidence)
        if self.state == TrackState.LOST and confidence < lost_threshold and self.grounder is not None:
            self._lost_frames += 1
            if (self._lost_frames - 1) % reground_every == 0:
                regrounded = self._reground(image_rgb, ground_threshold)
                if regrounded is not None:
                    box, confidence = regrounded
        if confidence < lost_threshold:
            self._misses += 1
        else:
            self._misses = 0
            self._last_good_box = box  # type: ignore[assignment]
        previous = self.state
        self.state = TrackState.LOST if self._misses >= lost_patience else TrackState.TRACKING
        if self.state != previous:
            if self.state == TrackState.LOST:
                self.log("warn", f"target LOST: confidence below {lost_threshold} for {self._misses} frames")
            else:
                self.log("info", f"target found again (confidence {confidence:.2f}); LOST -> TRACKING")
        if self.state == TrackState.TRACKING:
            self._lost_frames = 0
        shown = box if self.state == TrackState.TRACKING else self._last_good_box
        return FrameResult(self.state, shown, confidence, self.sentence, size)  # type: ignore[arg-type]

    # -- grounding ----------------------------------------------------------------------------
    def _ground_start(self, image_rgb: np.ndarray, ground_threshold: float, size: tuple[int, int]) -> FrameResult:
        assert self.grounder is not None
        candidates = self.grounder.ground(image_rgb, self.sentence)
        best = candidates[0] if candidates else None
        if best is None or best.score < ground_threshold:
            return FrameResult(TrackState.GROUNDING, None, best.score if best else 0.0, self.sentence, size)
        request = Start(sentence=self.sentence, box_xywh=tuple(float(v) for v in best.box_xywh), stamp_ns=None)
        try:
            self._initialize(image_rgb, request)
        except InputError as exc:
            self.log("warn", f"grounded box {list(request.box_xywh or ())} rejected: {exc}; still GROUNDING")
            return FrameResult(TrackState.GROUNDING, None, best.score, self.sentence, size)
        self.log("info", f"grounded {self.sentence!r} at {[round(v, 1) for v in request.box_xywh or ()]} "
                         f"(score {best.score:.2f}); GROUNDING -> TRACKING")
        return FrameResult(TrackState.TRACKING, self._last_good_box, float(best.score), self.sentence, size,
                           started=True)

    def _reground(self, image_rgb: np.ndarray, ground_threshold: float) -> tuple[tuple[float, ...], float] | None:
        """Move the search to the best grounded candidate and track this image again from there."""
        assert self.grounder is not None and self.tracker.state is not None
        candidates = [c for c in self.grounder.ground(image_rgb, self.sentence) if c.score >= ground_threshold]
        if not candidates:
            return None

        def rank(c: Candidate) -> tuple[float, float]:
            sim = (histogram_similarity(self._template_hist, appearance_histogram(image_rgb, c.box_xywh))
                   if self._template_hist is not None else 0.0)
            return sim, float(c.score)

        best = max(candidates, key=rank)
        self.tracker.state.box_xywh = np.asarray(best.box_xywh, dtype=np.float64).copy()
        result = self.tracker.track(image_rgb)
        self.log("info", f"LOST: re-grounded {self.sentence!r} at {[round(float(v), 1) for v in best.box_xywh]} "
                         f"(score {best.score:.2f}), tracker confidence there {result.confidence:.2f}")
        return tuple(float(v) for v in result.box_xywh), float(result.confidence)
