"""ManagedTracker: idle -> grounding -> tracking -> lost -> tracking on a generated sequence.

Collaborators are real: the Tracker runs a tiny random-weight All-in-One model (its confidence is
the peak of its real score map), and the grounder is a small colour-threshold detector written
here. A random-weight tracker cannot follow the target (its boxes blow up), so on visible frames
the appearance check flags its box and the grounder corrects it; the test checks the state machine.
"""
import cv2
import numpy as np
import pytest
import torch

from allinone_ros.config_io import ConfigError, from_dict
from allinone_ros.grounding import Candidate, Grounder
from allinone_ros.model import build_model, tiny_config
from allinone_ros.tracker import InputError, Tracker, TrackerConfig
from allinone_ros.tracker.lost import (
    LostConfig, ManagedTracker, TrackState, appearance_histogram, box_iou, histogram_similarity,
)

H, W = 160, 200
TARGET_RGB, DISTRACTOR_RGB = (220, 30, 30), (210, 100, 30)  # red, and an orange-red that also passes "red"
APPEARS, GONE, BACK, N = 2, 12, 20, 28  # target absent before APPEARS and on frames GONE..BACK-1


def make_sequence():
    """Frames, true boxes (None when the target is not in view) and whether the distractor is shown."""
    rng = np.random.default_rng(0)
    base = rng.integers(40, 90, size=(H, W, 3), dtype=np.uint8)
    frames, boxes = [], []
    for t in range(N):
        img = base.copy()
        if t >= GONE:  # a bigger red-ish object enters when the target leaves and stays
            cv2.rectangle(img, (140, 100), (140 + 30, 100 + 30), DISTRACTOR_RGB, -1)
        if APPEARS <= t < GONE or t >= BACK:
            x, y = 30 + 2 * t, 40 + t
            cv2.rectangle(img, (x, y), (x + 23, y + 19), TARGET_RGB, -1)
            boxes.append(np.array([x, y, 24, 20], dtype=np.float64))
        else:
            boxes.append(None)
        frames.append(img)
    return frames, boxes


class ColourGrounder:
    """Finds objects of the colour named in the sentence by thresholding (a real, simple detector).

    Score grows with blob area (bigger = more salient), so the distractor outranks the target.
    """

    RANGES = {"red": ((150, 0, 0), (255, 110, 80))}

    def __init__(self) -> None:
        self.calls = 0

    def ground(self, image_rgb, sentence):
        self.calls += 1
        out = []
        for word, (lo, hi) in self.RANGES.items():
            if word not in sentence.lower():
                continue
            mask = cv2.inRange(image_rgb, np.array(lo, np.uint8), np.array(hi, np.uint8))
            count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            for x, y, w, h, area in stats[1:count]:
                if area >= 30:
                    out.append(Candidate(np.array([x, y, w, h], dtype=np.float64), min(1.0, area / 900.0), word))
        return sorted(out, key=lambda c: -c.score)


@pytest.fixture(scope="module")
def tracker():
    torch.manual_seed(0)
    return Tracker(build_model(tiny_config()), TrackerConfig())


@pytest.fixture(scope="module")
def sequence():
    return make_sequence()


def run(managed, frames, sentence="the red box", box=None):
    results = [managed.start(frames[0], sentence, box)]
    results += [managed.step(f) for f in frames[1:]]
    return results


def test_colour_grounder_sees_target_and_distractor(sequence):
    frames, boxes = sequence
    grounder = ColourGrounder()
    assert isinstance(grounder, Grounder)
    assert grounder.ground(frames[0], "the red box") == []
    [c] = grounder.ground(frames[5], "the red box")
    assert box_iou(c.box_xywh, boxes[5]) > 0.9
    both = grounder.ground(frames[BACK], "the red box")
    assert len(both) == 2 and box_iou(both[1].box_xywh, boxes[BACK]) > 0.9  # the distractor scores higher


def test_sentence_start_loses_target_out_of_view_and_recovers_it(tracker, sequence):
    frames, boxes = sequence
    cfg = LostConfig(lost_threshold=0.3, lost_patience=3, recover_patience=2, reground_every=1,
                     appearance_threshold=0.5)
    results = run(ManagedTracker(tracker, ColourGrounder(), cfg), frames)
    states = [r.state for r in results]

    # Grounding until the target appears, then tracking.
    assert states[:APPEARS] == [TrackState.GROUNDING] * APPEARS
    assert all(r.box_xywh is None for r in results[:APPEARS])
    assert states[APPEARS:GONE] == [TrackState.TRACKING] * (GONE - APPEARS)
    for t in range(APPEARS, GONE):
        assert box_iou(results[t].box_xywh, boxes[t]) > 0.7, t

    # Lost after `lost_patience` frames of the out-of-view spell; no box while lost.
    lost_at = states.index(TrackState.LOST)
    assert GONE <= lost_at <= GONE + cfg.lost_patience - 1
    assert states[lost_at:BACK] == [TrackState.LOST] * (BACK - lost_at)
    assert all(r.box_xywh is None for r in results if r.state is not TrackState.TRACKING)

    # Re-acquired within `recover_patience` frames of its return: the target, not the higher-scoring distractor.
    back_at = lost_at + states[lost_at:].index(TrackState.TRACKING)
    assert BACK <= back_at <= BACK + cfg.recover_patience - 1
    assert all(s is TrackState.TRACKING for s in states[back_at:])
    for t in range(back_at, N):
        assert box_iou(results[t].box_xywh, boxes[t]) > 0.7, t
    assert results[back_at].source == "grounder" and results[back_at].similarity > 0.9


def test_reground_every_k_frames_while_lost(tracker, sequence):
    frames, _ = sequence
    grounder = ColourGrounder()
    cfg = LostConfig(lost_patience=1, recover_patience=1, reground_every=3, correct_with_grounder=True)
    managed = ManagedTracker(tracker, grounder, cfg)
    managed.start(frames[APPEARS], "the red box")
    lost_calls = []
    for t in range(APPEARS + 1, BACK + 4):
        was_lost = managed.state is TrackState.LOST
        before = grounder.calls
        result = managed.step(frames[t])
        if was_lost:
            lost_calls.append(grounder.calls - before)
        if was_lost and result.state is TrackState.TRACKING:
            break
    # 1st lost frame and every 3rd after; the target came back at a frame where the grounder ran.
    assert lost_calls[:6] == [1, 0, 0, 1, 0, 0]
    assert managed.state is TrackState.TRACKING
    assert lost_calls[-1] == 1


def test_confidence_rule_alone_and_search_enlargement(tracker, sequence):
    """No grounder, no appearance check: the tracker's own confidence decides; while lost the search grows."""
    frames, boxes = sequence
    base = tracker.config.search_factor
    always_bad = LostConfig(lost_threshold=1.0, recover_threshold=1.0, lost_patience=2, appearance_threshold=0.0,
                            search_growth=1.5, max_search_factor=10.0)
    results = run(ManagedTracker(tracker, None, always_bad), frames[APPEARS:APPEARS + 6], box=boxes[APPEARS])
    assert [r.state for r in results] == [TrackState.TRACKING] * 2 + [TrackState.LOST] * 4
    assert [r.search_factor for r in results[3:]] == [base * 1.5, base * 2.25, 10.0]
    assert all(r.box_xywh is None for r in results[2:])
    assert tracker.config.search_factor == base  # the plain tracker's settings are restored

    # The local re-search alone (no grounder) recovers once its confidence passes recover_threshold.
    local = LostConfig(lost_threshold=1.0, recover_threshold=0.0, lost_patience=1, recover_patience=1,
                       appearance_threshold=0.0)
    results = run(ManagedTracker(tracker, None, local), frames[APPEARS:APPEARS + 3], box=boxes[APPEARS])
    assert [r.state for r in results] == [TrackState.TRACKING, TrackState.LOST, TrackState.TRACKING]
    assert results[2].source == "local_search" and results[2].box_xywh is not None

    never_bad = LostConfig(lost_threshold=0.0, appearance_threshold=0.0)
    results = run(ManagedTracker(tracker, None, never_bad), frames[APPEARS:APPEARS + 4], box=boxes[APPEARS])
    assert all(r.state is TrackState.TRACKING and r.box_xywh is not None for r in results)
    assert all(0.0 < r.confidence <= 1.0 for r in results)


def test_appearance_histogram_similarity():
    frames, boxes = make_sequence()
    target = appearance_histogram(frames[5], boxes[5])
    assert target.sum() == pytest.approx(1.0)
    assert histogram_similarity(target, appearance_histogram(frames[6], boxes[6])) > 0.95
    assert histogram_similarity(target, appearance_histogram(frames[BACK], np.array([140, 100, 31, 31]))) < 0.1
    assert appearance_histogram(frames[5], np.array([500, 500, 10, 10])).sum() == 0.0


def test_api_errors(tracker, sequence):
    frames, _ = sequence
    managed = ManagedTracker(tracker, None)
    with pytest.raises(RuntimeError, match="step\\(\\) before start\\(\\)"):
        managed.step(frames[0])
    with pytest.raises(InputError, match="needs a grounder"):
        managed.start(frames[0], "the red box")
    with pytest.raises(InputError, match="non-empty sentence, got ''"):
        ManagedTracker(tracker, ColourGrounder()).start(frames[0], "")
    with pytest.raises(InputError, match="sentence must be a string, got int"):
        managed.start(frames[0], 7, [1, 2, 3, 4])
    with pytest.raises(InputError, match="width and height must be >= 1 px"):
        managed.start(frames[0], "x", [1, 2, 0, 4])
    result = managed.start(frames[2], "the red box", [34, 42, 24, 20])
    assert result.state is TrackState.TRACKING and result.source == "init"
    managed.stop()
    assert managed.state is TrackState.IDLE
    with pytest.raises(RuntimeError, match="after stop"):
        managed.step(frames[3])


def test_lost_config_checks_values_and_loads_from_dicts():
    with pytest.raises(ValueError, match="lost_patience must be an integer >= 1, got 0"):
        LostConfig(lost_patience=0)
    with pytest.raises(ValueError, match="recover_threshold must be in \\[0, 1\\], got 2"):
        LostConfig(recover_threshold=2)
    with pytest.raises(ValueError, match="search_growth must be >= 1, got 0.5"):
        LostConfig(search_growth=0.5)
    assert from_dict(LostConfig, {"reground_every": 2, "histogram_bins": [8, 4]}).histogram_bins == (8, 4)
    with pytest.raises(ConfigError, match="unknown key.*patience"):
        from_dict(LostConfig, {"patience": 2})
