"""The target lifecycle: one state machine for the ROS node, the CLIs, evaluation and the demo.

States (:class:`TargetState`, values equal ``allinone_ros/TrackedTarget`` STATE_*):
IDLE -> (sentence, no box) GROUNDING, or WAITING_FOR_BOX without a grounder -> TRACKING <-> LOST.

Requests (between images): :meth:`TargetLifecycle.request` with a sentence and/or a box, and
:meth:`TargetLifecycle.stop`. A box starts tracking on the image given with it, or on the next
image; a sentence alone re-targets the language of a running track (box and template kept), and
otherwise starts GROUNDING (WAITING_FOR_BOX without a grounder, until a box arrives).

Presence (TRACKING). Each image is tracked from the last position. The frame shows the target
when all three agree: the tracker's confidence (score-map peak) reaches ``lost_threshold``, the
colours of the box are like the target's (``appearance_threshold``: the better of the similarity to
the first template and to the recent appearance, a running average over the confident TRACKING
images weighted by ``appearance_adapt``, so that light and background changes are followed while a
switch to an object of other colours is not), and the box centre
is within ``max_jump`` target sizes of where the smoothed motion predicts it (a peak on another
object further away is not followed: the search stays at the predicted position). The reported
box is the tracker's box cut to the image. On an image without the target the grounder (if any)
is asked: its acceptable candidate within the jump limit of the prediction (the LOST rules for a
near candidate) continues the track; a farther one never does. ``lost_patience`` frames in a row
without the target switch to LOST.

Re-acquisition (LOST). No box is reported. The tracker searches locally around the predicted
position with a region growing by ``search_growth`` per frame; on the first LOST frame and every
``reground_every``-th after it, when the local search found nothing acceptable, the grounder
(if any) looks in the whole image. A candidate is accepted when its score reaches
``recover_threshold`` (local search, and a grounded candidate inside the region the local search
covers) or ``ground_threshold`` and ``recover_threshold`` (a grounded candidate further away),
its colours pass the appearance check and its size is within ``max_scale_change`` of the last
tracked size; among grounded candidates the one most like the template, then nearest to the
prediction, wins. With a grounder and ``recover_needs_grounder`` a local candidate further than
``max_jump`` from the predicted position counts only where a grounded candidate agrees (the
sentence, not the template, tells look-alikes apart).
``recover_patience`` consecutive accepted candidates at the same place (overlapping by
``recover_iou``, or within the distance the target may move from where the previous candidates
were heading: a fast target leaves no overlap) bring back TRACKING from the last one, moving as
the candidates moved. The template is
never replaced.

Grounding (GROUNDING): the grounder's best candidate scoring ``ground_threshold`` or more, and
``ground_margin`` more than any other place in the image (a look-alike scoring nearly as well
makes the sentence ambiguous), on ``ground_confirm`` consecutive images at overlapping places
starts tracking there. The same two rules hold for grounded candidates while LOST.

Verification (``verify_threshold`` > 0 and a grounder that can verify, :class:`~..grounding.base.Verifier`):
the grounder's probability that a box shows the sentence's object must reach ``verify_threshold``
for the box to count as the target: LOST's local and grounded candidates and GROUNDING's start
candidate on each image; in TRACKING its running average over every ``verify_every``-th image
(``verify_smoothing``: the weight of each), so that one crop of a box slightly off does not end a track while a switch to a
look-alike does within a few images. A language-free track is not verified. The verifier also
speaks for the colours: a box (tracked, or a LOST candidate) that fails only the appearance check
counts when its match reaches ``appearance_override`` (the ground around the target or the light
changed, the sentence's colour and shape are there), and so does a grounded candidate failing only
the size check (a track that ended drifting over a look-alike beside the target leaves a recent
size that is not the target's). After the grounder put the track back (LOST re-acquisition, or a
correction near the prediction) each of the next ``verify_watch`` TRACKING images is verified on
its own, without the average: the tracker's template may still prefer the look-alike it left. So
is a tracked box further than ``verify_jump`` target sizes from the predicted position (the tracker
jumping onto a look-alike beside the target).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from ..grounding.base import Grounder, Verifier
from ..tracker import InputError, Tracker
from ..ops.boxes import box_inside_image
from ..ops.iou import box_iou_xywh
from ..tracker.preprocess import check_box, check_box_values, check_image
from .appearance import appearance_histogram, histogram_similarity
from .config import LifecycleConfig
from .motion import MotionModel, box_centre
from .states import TargetResult, TargetState

log = logging.getLogger(__name__)

CONFIDENT = 0.5  # tracker confidence from which a TRACKING image updates the recent appearance


@dataclass(frozen=True)
class _Candidate:
    box_xywh: np.ndarray  # (4,) inside the image
    score: float
    similarity: float | None
    source: str  # "local_search" | "grounder"
    frame: int = -1  # the image it was found on
    velocity: np.ndarray | None = None  # (2,) px per image from the candidate of the image before, if any


_RECOVERED_MATCH = 0.9  # TRACKING verifies every image while its running match average is below this


def _ahead(cand: _Candidate, frame: int) -> np.ndarray:
    """Where ``cand`` is expected on image ``frame``: moved on at its velocity when known."""
    if cand.velocity is None or frame <= cand.frame:
        return cand.box_xywh
    box = cand.box_xywh.copy()
    box[:2] += cand.velocity * (frame - cand.frame)
    return box


class TargetLifecycle:
    """``request(sentence, box_xywh=None, image_rgb=None)``, then ``process(image_rgb)`` per image; ``stop()``."""

    def __init__(self, tracker: Tracker, grounder: Grounder | None = None,
                 config: LifecycleConfig | None = None) -> None:
        self.tracker = tracker
        self.grounder = grounder
        self.config = config or LifecycleConfig()
        self._state = TargetState.IDLE
        self._sentence = ""
        self._reset_track()

    # -- public -------------------------------------------------------------------------------
    @property
    def state(self) -> TargetState:
        return self._state

    @property
    def sentence(self) -> str:
        return self._sentence

    @property
    def has_pending_start(self) -> bool:
        """A box request waits for the next image."""
        return self._pending_start is not None

    def stop(self) -> None:
        """Forget the target: IDLE."""
        self._state = TargetState.IDLE
        self._sentence = ""
        self._reset_track()

    def request(self, sentence: str = "", box_xywh: object | None = None,
                image_rgb: np.ndarray | None = None) -> TargetResult | None:
        """Start, restart or re-target; returns the start image's result when ``image_rgb`` is given with a box.

        * box (+ sentence): track from ``box_xywh`` on ``image_rgb`` now, or on the next image given
          to :meth:`process`. No sentence in WAITING_FOR_BOX uses the waiting one.
        * sentence only: re-target the language while TRACKING / LOST; else GROUNDING (a grounder)
          or WAITING_FOR_BOX (none).
        A bad sentence, box or image raises :class:`InputError` and changes nothing.
        """
        if not isinstance(sentence, str):
            raise InputError(f"sentence must be a string, got {type(sentence).__name__}")
        if box_xywh is None:
            return self._sentence_only(sentence)
        if not sentence and self._state is TargetState.WAITING_FOR_BOX:
            sentence = self._sentence
        if image_rgb is None:
            vals = check_box_values(box_xywh)  # validated again against the image it is applied to
            self._pending_start = (sentence, vals)
            return None
        box = self._checked_box(image_rgb, box_xywh)
        self._sentence = sentence
        return self._begin(image_rgb, box, 1.0, "init")

    def process(self, image_rgb: np.ndarray) -> TargetResult:
        """Handle one image in the current state and report it. A bad image raises :class:`InputError`."""
        img_h, img_w = check_image(image_rgb)
        if self._pending_start is not None:
            sentence, vals = self._pending_start
            self._pending_start = None
            box = self._checked_box(image_rgb, vals)  # raises: the request is dropped, the state kept
            self._sentence = sentence
            return self._begin(image_rgb, box, 1.0, "init")
        self._frame += 1
        if self._state is TargetState.GROUNDING:
            return self._step_grounding(image_rgb)
        if self._state is TargetState.TRACKING:
            return self._step_tracking(image_rgb)
        if self._state is TargetState.LOST:
            return self._step_lost(image_rgb)
        return self._result(TargetState(self._state), None, 0.0, (img_h, img_w))

    # -- requests -----------------------------------------------------------------------------
    def _reset_track(self) -> None:
        self.tracker.reset()
        self._pending_start: tuple[str, tuple[float, float, float, float]] | None = None
        self._template_hist: np.ndarray | None = None
        self._recent_hist: np.ndarray | None = None  # running average of the confident TRACKING images
        self._motion: MotionModel | None = None
        self._last_box: np.ndarray | None = None
        self._misses = 0
        self._lost_frames = 0
        self._recover: _Candidate | None = None
        self._recover_count = 0
        self._match_avg = 1.0  # running average of the verifier's match over the TRACKING images
        self._watch = 0  # TRACKING images still to verify alone (after the grounder put the track back)
        self._frame = -1

    def _sentence_only(self, sentence: str) -> None:
        if self._state in (TargetState.TRACKING, TargetState.LOST):
            self.tracker.set_text(sentence)
            self._sentence = sentence
            log.info("re-targeted the running track to %r (box kept)", sentence)
            return None
        if not sentence.strip():
            raise InputError("a sentence alone needs words; send a box to start without a sentence")
        self._reset_track()
        self._sentence = sentence
        self._frame = -1
        self._state = TargetState.GROUNDING if self.grounder is not None else TargetState.WAITING_FOR_BOX
        log.info("%s: %r", self._state.name, sentence)
        return None

    def _checked_box(self, image_rgb: np.ndarray, box_xywh: object) -> np.ndarray:
        img_h, img_w = check_image(image_rgb)
        box = np.asarray(check_box(box_xywh, img_h, img_w), dtype=np.float64)
        inside = box_inside_image(box, img_h, img_w)
        if inside is None:
            raise InputError(f"box {box.tolist()} has less than 1 px inside the {img_w}x{img_h} image")
        if not np.allclose(inside, box):
            log.warning("box %s reaches outside the %dx%d image; tracking its part inside, %s",
                        np.round(box, 2).tolist(), img_w, img_h, np.round(inside, 2).tolist())
        return inside

    def _begin(self, image_rgb: np.ndarray, box: np.ndarray, score: float, source: str) -> TargetResult:
        self._reset_track()
        self.tracker.initialize(image_rgb, box, self._sentence)
        self._template_hist = appearance_histogram(image_rgb, box, self.config.histogram_bins)
        self._motion = MotionModel(box, self.config.velocity_smoothing, self.config.size_smoothing)
        self._last_box = box.copy()
        self._state = TargetState.TRACKING
        self._frame = 0
        log.info("tracking %r from the %s box %s", self._sentence, source, np.round(box, 1).tolist())
        return self._result(TargetState.TRACKING, box, score, image_rgb.shape[:2], started=True, source=source,
                            similarity=1.0)

    # -- evidence -----------------------------------------------------------------------------
    def _appearance(self, image_rgb: np.ndarray, box: np.ndarray) -> tuple[float | None, np.ndarray | None]:
        """The box's colour similarity to the target (the better of the first template and the recent
        appearance) and its histogram; (None, None) when the appearance check is off."""
        if self.config.appearance_threshold <= 0 or self._template_hist is None:
            return None, None
        hist = appearance_histogram(image_rgb, box, self.config.histogram_bins)
        similarity = histogram_similarity(self._template_hist, hist)
        if self._recent_hist is not None:
            similarity = max(similarity, histogram_similarity(self._recent_hist, hist))
        return similarity, hist

    def _similarity(self, image_rgb: np.ndarray, box: np.ndarray) -> float | None:
        return self._appearance(image_rgb, box)[0]

    def _adapt_appearance(self, hist: np.ndarray | None, confidence: float) -> None:
        """Fold the histogram of a TRACKING image whose confidence reaches ``CONFIDENT`` into the recent
        appearance (nothing to fold while the appearance check is off)."""
        weight = self.config.appearance_adapt
        if weight <= 0 or hist is None or confidence < CONFIDENT:
            return
        self._recent_hist = hist if self._recent_hist is None else (1.0 - weight) * self._recent_hist + weight * hist

    def _match(self, image_rgb: np.ndarray, box: np.ndarray) -> float | None:
        """The grounder's probability that ``box`` shows the sentence's object; None when not checked
        (``verify_threshold`` 0, no sentence, or a grounder that cannot verify)."""
        grounder = self.grounder
        if (self.config.verify_threshold <= 0 or not self._sentence.strip() or not isinstance(grounder, Verifier)
                or not grounder.can_verify):
            return None
        return float(grounder.verify(image_rgb, [box], self._sentence)[0])

    def _verified(self, match: float | None) -> bool:
        return match is None or match >= self.config.verify_threshold

    def _looks_right(self, similarity: float | None) -> bool:
        return similarity is None or similarity >= self.config.appearance_threshold

    def _overrules(self, match: float | None) -> bool:
        """Does the verifier find the sentence's object so surely that colours unlike the target's (and, for a
        grounded candidate, another size) do not count?"""
        override = self.config.appearance_override
        return match is not None and override < 1.0 and match >= override  # 1: never

    def _jump_limit(self) -> float:
        """How far (target sizes) from the prediction the target may be: more when it moves fast."""
        assert self._motion is not None
        return self.config.max_jump + self.config.jump_per_speed * self._motion.speed()

    def _size_ok(self, box: np.ndarray) -> bool:
        assert self._motion is not None
        return self._motion.scale_ratio(box) <= self.config.max_scale_change

    # -- states -------------------------------------------------------------------------------
    def _step_tracking(self, image_rgb: np.ndarray) -> TargetResult:
        cfg, motion = self.config, self._motion
        assert motion is not None
        img_h, img_w = image_rgb.shape[:2]
        res = self.tracker.track(image_rgb)
        box = box_inside_image(res.box_xywh, img_h, img_w)
        similarity, hist = self._appearance(image_rgb, box) if box is not None else (None, None)
        jump = motion.distance(res.box_xywh)
        placed = (box is not None and res.confidence >= cfg.lost_threshold
                  and jump <= self._jump_limit() and self._size_ok(res.box_xywh))
        looks = self._looks_right(similarity)
        # Verified every verify_every-th image, every image after a doubt until the average has recovered,
        # every image whose colours alone say no (the verifier may overrule them), and every image judged
        # on its own: while watched, and where the box left the predicted path (a jump onto a look-alike).
        # The crop is at the target's recent size (a tracker box grown for one image brings neighbours in).
        alone = self._watch > 0 or jump > cfg.verify_jump
        self._watch = max(self._watch - 1, 0)
        checked = placed and (alone or not looks or self._frame % cfg.verify_every == 0
                              or self._match_avg < _RECOVERED_MATCH)
        match = self._match(image_rgb, self._at_recent_size(box)) if checked else None
        if match is not None:  # one doubtful crop (a box a little off) does not end a track; a switch does
            weight = 1.0 if alone else cfg.verify_smoothing
            self._match_avg = (1.0 - weight) * self._match_avg + weight * match
        # the running match stays 1 while nothing is verified
        present = placed and (looks or self._overrules(match)) and self._match_avg >= cfg.verify_threshold
        if present:
            assert box is not None
            motion.observe(box)
            self._adapt_appearance(hist, res.confidence)
            self._last_box, self._misses = box.copy(), 0
            return self._result(TargetState.TRACKING, box, res.confidence, (img_h, img_w), source="tracker",
                                similarity=similarity, timings=res.timings_ms)
        fix = self._grounded_near_prediction(image_rgb)
        if fix is not None:  # the tracker's peak is not the target, the sentence's object is where it should be
            self.tracker.relocate(fix.box_xywh)
            motion.observe(fix.box_xywh)
            self._last_box, self._misses, self._watch = fix.box_xywh.copy(), 0, cfg.verify_watch
            return self._result(TargetState.TRACKING, fix.box_xywh, fix.score, (img_h, img_w), source="grounder",
                                similarity=fix.similarity, timings=res.timings_ms)
        motion.miss()
        # Do not follow a peak that is not the target: search where the target should be.
        search = self._search_box(img_h, img_w)
        self.tracker.relocate(search)
        self._misses += 1
        if self._misses < cfg.lost_patience:
            shown = box_inside_image(search, img_h, img_w)
            return self._result(TargetState.TRACKING, shown if shown is not None else self._last_box,
                                res.confidence, (img_h, img_w), source="tracker", similarity=similarity,
                                timings=res.timings_ms)
        log.info("target LOST at image %d (confidence %.2f, similarity %s, match %s, %.1f target sizes from the "
                 "prediction, scale x%.2f)", self._frame, res.confidence,
                 None if similarity is None else round(similarity, 2), None if match is None else round(match, 2),
                 jump, motion.scale_ratio(res.box_xywh))
        self._state = TargetState.LOST
        self._lost_frames = 0
        self._recover, self._recover_count = None, 0
        return self._result(TargetState.LOST, None, res.confidence, (img_h, img_w), similarity=similarity,
                            timings=res.timings_ms)

    def _at_recent_size(self, box: np.ndarray) -> np.ndarray:
        """``box`` with its centre and aspect, at the target's recent (smoothed) size."""
        assert self._motion is not None
        side, aspect = self._motion.size, math.sqrt(max(box[2], 1e-6) / max(box[3], 1e-6))
        w, h = side * aspect, side / aspect
        return np.array([box[0] + box[2] / 2.0 - w / 2.0, box[1] + box[3] / 2.0 - h / 2.0, w, h])

    def _search_box(self, img_h: int, img_w: int) -> np.ndarray:
        """The predicted box at the recent target size, its centre kept inside the image."""
        assert self._motion is not None
        box = self._at_recent_size(self._motion.predict(self._motion.frames_since))
        cx = min(max(box[0] + box[2] / 2.0, 0.0), float(img_w))
        cy = min(max(box[1] + box[3] / 2.0, 0.0), float(img_h))
        return np.array([cx - box[2] / 2.0, cy - box[3] / 2.0, box[2], box[3]])

    def _step_lost(self, image_rgb: np.ndarray) -> TargetResult:
        cfg, motion = self.config, self._motion
        assert motion is not None
        img_h, img_w = image_rgb.shape[:2]
        self._lost_frames += 1
        motion.miss()
        base = self.tracker.config.search_factor
        pending = self._recover
        if pending is not None:  # confirm the candidate of the last frame where it is (or has moved on to)
            anchor, factor, radius = _ahead(pending, self._frame), base, self._jump_limit()
        else:  # search around the prediction in a region that grows while the target stays away
            anchor = self._search_box(img_h, img_w)
            factor = min(base * cfg.search_growth ** self._lost_frames, max(cfg.max_search_factor, base))
            radius = self._jump_limit() * factor / base
        self.tracker.relocate(anchor)
        res = self.tracker.track(image_rgb, search_factor=factor)
        local = box_inside_image(res.box_xywh, img_h, img_w)
        local_cand = None
        if local is not None and motion.distance(local, anchor) <= radius:
            cand = _Candidate(local, res.confidence, self._similarity(image_rgb, local), "local_search", self._frame)
            local_cand = cand if self._accepts(image_rgb, cand, cfg.recover_threshold) else None
        grounded: list[_Candidate] = []
        if self.grounder is not None and (self._lost_frames - 1) % cfg.reground_every == 0:
            grounded = self._grounded(image_rgb, anchor, radius)
        best, votes = self._pick(local_cand, grounded, pending)
        # a count above this image's votes: the pending candidate was at the same place (see _tally)
        count = self._tally(best, votes) if best is not None else 0
        if best is None or count < cfg.recover_patience:
            self.tracker.relocate(best.box_xywh if best is not None else self._search_box(img_h, img_w))
            score = best.score if best is not None else res.confidence
            similarity = best.similarity if best is not None else (
                self._similarity(image_rgb, local) if local is not None else None)
            return self._result(TargetState.LOST, None, score, (img_h, img_w), similarity=similarity,
                                timings=res.timings_ms)
        log.info("target found again at image %d by %s (score %.2f, similarity %s)", self._frame, best.source,
                 best.score, None if best.similarity is None else round(best.similarity, 2))
        self.tracker.relocate(best.box_xywh)
        motion.restart(best.box_xywh, self._recover_velocity(best, pending) if count > votes else None)
        self._state, self._misses, self._last_box = TargetState.TRACKING, 0, best.box_xywh.copy()
        self._recover, self._recover_count, self._match_avg = None, 0, 1.0
        self._watch = cfg.verify_watch
        return self._result(TargetState.TRACKING, best.box_xywh, best.score, (img_h, img_w), source=best.source,
                            similarity=best.similarity, timings=res.timings_ms)

    @staticmethod
    def _recover_velocity(best: _Candidate, previous: _Candidate | None) -> np.ndarray | None:
        """Velocity (px per image) from the confirming candidate to the accepted one, if both are known."""
        if previous is None or not 0 <= previous.frame < best.frame:
            return None
        return (box_centre(best.box_xywh) - box_centre(previous.box_xywh)) / (best.frame - previous.frame)  # (2,)

    def _same_place(self, best: _Candidate, last: _Candidate) -> bool:
        """Is ``best`` the object ``last`` was: overlapping it, or (LOST) within the distance the target
        may move since then from where ``last`` was heading (a fast target leaves no overlap between
        consecutive images; three candidates moving on steadily are one object)."""
        if box_iou_xywh(best.box_xywh, last.box_xywh) >= self.config.recover_iou:
            return True
        if self._state is not TargetState.LOST or self._motion is None:
            return False
        return self._motion.distance(best.box_xywh, _ahead(last, best.frame)) <= self._jump_limit()

    def _accepts(self, image_rgb: np.ndarray, cand: _Candidate, threshold: float) -> bool:
        """Score, size, the verifier, and the colours (which the verifier may overrule, and for the grounder's
        box of the sentence's object also the size: a track that ended drifting over a look-alike beside the
        target left a recent size that is not the target's)."""
        size_ok = self._size_ok(cand.box_xywh)
        if cand.score < threshold or not (size_ok or cand.source == "grounder"):
            return False
        match = self._match(image_rgb, cand.box_xywh)
        return (self._verified(match) and (size_ok or self._overrules(match))
                and (self._looks_right(cand.similarity) or self._overrules(match)))

    def _pick(self, local: _Candidate | None, grounded: list[_Candidate],
              pending: _Candidate | None) -> tuple[_Candidate | None, int]:
        """The re-acquisition candidate of this frame and its votes (2 when local search and grounder agree).

        Local first: the local search's candidate wins, backed by a grounded one on the same place.
        Without it, the grounded candidate overlapping the pending one, else the most template-like
        one, nearest to the prediction.
        """
        iou = self.config.recover_iou
        if local is not None:
            agree = any(box_iou_xywh(g.box_xywh, local.box_xywh) >= iou for g in grounded)
            if agree:
                return local, 2
            assert self._motion is not None
            near = self._motion.distance(local.box_xywh) <= self._jump_limit()  # where the target should be
            if near or self.grounder is None or not self.config.recover_needs_grounder:
                return local, 1
        if not grounded:
            return None, 0
        if pending is not None:
            same = [g for g in grounded if self._same_place(g, pending)]
            if same:
                return max(same, key=lambda g: g.score), 1
        assert self._motion is not None
        motion = self._motion

        def rank(c: _Candidate) -> tuple[float, float]:
            return (c.similarity if c.similarity is not None else 0.0, -motion.distance(c.box_xywh))

        return max(grounded, key=rank), 1

    def _grounded_near_prediction(self, image_rgb: np.ndarray) -> _Candidate | None:
        """On a TRACKING image without the target: the best acceptable grounded candidate within the
        jump limit of the prediction (never a far one: that goes through LOST), else None."""
        if self.grounder is None or not self._sentence.strip():
            return None
        assert self._motion is not None
        near = self._grounded(image_rgb, self._motion.predict(), self._jump_limit(), far=False)
        return max(near, key=lambda c: c.score) if near else None

    def _unambiguous(self, found: list) -> list:
        """The grounder's candidates that beat every non-overlapping other one by ``ground_margin``
        (a look-alike scoring nearly as well makes the sentence's object ambiguous: none is taken)."""
        out = []
        for c in found:
            rivals = [o.score for o in found if o is not c and box_iou_xywh(o.box_xywh, c.box_xywh) < 0.1]
            if not rivals or c.score >= max(rivals) + self.config.ground_margin:
                out.append(c)
        return out

    def _grounded(self, image_rgb: np.ndarray, anchor: np.ndarray, radius: float,
                  far: bool = True) -> list[_Candidate]:
        """The grounder's acceptable candidates; within ``radius`` target sizes of ``anchor`` (the region the
        local search covers on this image) the re-acquisition score suffices, elsewhere (only with ``far``)
        the start score."""
        assert self.grounder is not None
        if not self._sentence.strip():  # a language-free track: nothing to ground
            return []
        img_h, img_w = image_rgb.shape[:2]
        far_need = max(self.config.ground_threshold, self.config.recover_threshold)
        assert self._motion is not None
        out = []
        for box, score in self._placed(self.grounder.ground(image_rgb, self._sentence), img_h, img_w):
            near = self._motion.distance(box, anchor) <= radius
            if not (near or far):
                continue
            cand = _Candidate(box, score, self._similarity(image_rgb, box), "grounder", self._frame)
            if self._accepts(image_rgb, cand, self.config.recover_threshold if near else far_need):
                out.append(cand)
        return out

    def _placed(self, found: list, img_h: int, img_w: int) -> list[tuple[np.ndarray, float]]:
        """The unambiguous grounded candidates (best first) as (box cut to the image, score); none outside it."""
        out = []
        for c in self._unambiguous(found):
            box = box_inside_image(np.asarray(c.box_xywh, dtype=np.float64), img_h, img_w)
            if box is not None:
                out.append((box, float(c.score)))
        return out

    def _step_grounding(self, image_rgb: np.ndarray) -> TargetResult:
        assert self.grounder is not None
        cfg = self.config
        img_h, img_w = image_rgb.shape[:2]
        t0 = time.perf_counter()
        found = self.grounder.ground(image_rgb, self._sentence)
        timings = {"ground": (time.perf_counter() - t0) * 1e3}
        best = next((_Candidate(box, score, None, "grounder") for box, score in self._placed(found, img_h, img_w)
                     if score >= cfg.ground_threshold and self._verified(self._match(image_rgb, box))), None)
        if best is None:
            self._tally(None, 0)
            top = float(found[0].score) if found else 0.0
            return self._result(TargetState.GROUNDING, None, top, (img_h, img_w), timings=timings)
        if self._tally(best, 1) < cfg.ground_confirm:
            return self._result(TargetState.GROUNDING, None, best.score, (img_h, img_w), timings=timings)
        log.info("grounded %r at %s (score %.2f)", self._sentence, np.round(best.box_xywh, 1).tolist(), best.score)
        return self._begin(image_rgb, best.box_xywh, best.score, "grounder")

    def _tally(self, best: _Candidate | None, votes: int) -> int:
        """Count ``votes`` for ``best`` when it is at the candidate of the last image's place (:meth:`_same_place`), else start again
        from it (None: forget it); returns the count (GROUNDING's confirmation, LOST's re-acquisition)."""
        last = self._recover
        if best is None:
            self._recover, self._recover_count = None, 0
        elif last is not None and self._same_place(best, last):
            self._recover, self._recover_count = best, self._recover_count + votes
        else:
            if last is not None and 0 <= last.frame == best.frame - 1:  # where it came from, if it moved
                best = replace(best, velocity=box_centre(best.box_xywh) - box_centre(last.box_xywh))  # px/image
            self._recover, self._recover_count = best, votes
        return self._recover_count

    # -- results ------------------------------------------------------------------------------
    def _result(self, state: TargetState, box: np.ndarray | None, confidence: float, size: tuple[int, ...],
                started: bool = False, source: str = "none", similarity: float | None = None,
                timings: dict[str, float] | None = None) -> TargetResult:
        return TargetResult(
            state=state, box_xywh=None if box is None else np.asarray(box, dtype=np.float64).copy(),
            confidence=float(confidence), sentence=self._sentence, image_size=(int(size[0]), int(size[1])),
            frame_index=self._frame, last_box_xywh=None if self._last_box is None else self._last_box.copy(),
            started=started, source=source, similarity=similarity, timings_ms=dict(timings or {}),
        )
