"""Long-term metrics on hand-made reports; every expected number is worked out by hand in the comments."""
import math

import numpy as np
import pytest

from allinone_ros.evaluation.longterm import (
    FrameReport, evaluate_long_term, false_start_rate, read_frame_report, summarize_long_term, write_frame_report,
)

GT = np.array([[0, 0, 10, 10]] * 6, dtype=float)
ABSENT = np.array([0, 0, 0, 1, 1, 0], dtype=bool)


def report_a() -> FrameReport:
    # frame: 0 start | 1 exact (conf .9) | 2 shifted by 5 px: IoU 50/150 (.4) | 3 no box (.1)
    #        4 a box while absent (.2) | 5 no box while visible (0)
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 0, 0], [0, 0, 10, 10], [0, 0, 0, 0]],
                     dtype=float)
    has = np.array([1, 1, 1, 0, 1, 0], dtype=bool)
    return FrameReport(has, boxes, np.array([1.0, 0.9, 0.4, 0.1, 0.2, 0.0]))


def test_one_sequence_by_hand() -> None:
    seq = evaluate_long_term("a", GT, report_a(), ABSENT)
    s = summarize_long_term([seq])
    # frames 1..5: absent at 3, 4; no box at 3, 5 -> one hit of two reported and of two absent
    assert s.absent_precision == pytest.approx(0.5) and s.absent_recall == pytest.approx(0.5)
    assert s.visible_without_box == pytest.approx(1 / 3)  # frame 5 of the visible 1, 2, 5
    # tau in (0.2, 0.4]: boxes of frames 1, 2 -> Pr = (1 + 1/3) / 2 = 2/3, Re = (1 + 1/3) / 3 = 4/9,
    # F = 2 (2/3)(4/9) / (2/3 + 4/9) = 8/15; tau = 0: Pr = Re = 4/9; tau > 0.4: Pr 1, Re 1/3, F 1/2
    assert s.f_score == pytest.approx(8 / 15)
    assert (s.tracking_precision, s.tracking_recall) == (pytest.approx(2 / 3), pytest.approx(4 / 9))
    assert 0.2 < s.threshold <= 0.4
    # visible IoUs 1, 1/3, 0 over 21 thresholds: 7 thresholds (0 .. 0.30) see 2/3, 13 see 1/3, 1.0 sees 0
    assert s.auc_visible == pytest.approx((7 * 2 / 3 + 13 / 3) / 21)
    # the absence (3, 4) ends at frame 5, which has no box, and the sequence ends: never re-acquired
    assert seq.reacquire_frames == (None,) and s.episodes == 1 and s.reacquired_within[3] == 0.0
    assert math.isinf(s.reacquire_median) and s.sequences_with_switch == 0


def test_reacquisition_and_switches_by_hand() -> None:
    gt = np.array([[0, 0, 10, 10]] * 12, dtype=float)
    absent = np.zeros(12, dtype=bool)
    absent[2:4] = True
    boxes = np.tile([0.0, 0.0, 10.0, 10.0], (12, 1))
    boxes[4] = [0, 0, 10, 2]  # IoU 0.2: not re-acquired yet
    boxes[6:11] = [50, 50, 10, 10]  # five frames in a row on something else: one switch
    has = np.ones(12, dtype=bool)
    has[2:4] = False
    seq = evaluate_long_term("b", gt, FrameReport(has, boxes, np.ones(12)), absent)
    assert seq.reacquire_frames == (1,)  # first visible frame 4, IoU >= 0.5 on frame 5
    assert seq.switch_runs == 1
    s = summarize_long_term([seq])
    assert s.reacquire_median == 1.0 and s.reacquired_within[3] == 1.0
    assert s.absent_precision == 1.0 and s.absent_recall == 1.0 and s.sequences_with_switch == 1


def test_false_start_rate_counts_runs_with_any_box() -> None:
    none = FrameReport(np.zeros(4, bool), np.zeros((4, 4)), np.zeros(4))
    late = FrameReport(np.array([0, 0, 0, 1], bool), np.zeros((4, 4)), np.zeros(4))
    assert false_start_rate([none, late, none, none]) == 0.25


def test_state_and_confidence_files_round_trip(tmp_path) -> None:
    rep = report_a()
    states = ["TRACKING", "TRACKING", "TRACKING", "LOST", "TRACKING", "LOST"]
    write_frame_report(tmp_path, "a", states, rep.confidence)
    back = read_frame_report(tmp_path, "a", rep.boxes_xywh)
    assert np.array_equal(back.has_box, rep.has_box) and np.allclose(back.confidence, rep.confidence)
    (tmp_path / "a_state.txt").write_text("TRACKING\n")
    with pytest.raises(ValueError, match="1 lines for 6 frames"):
        read_frame_report(tmp_path, "a", rep.boxes_xywh)
    # without side files: a box is a non-empty row, with confidence 1
    plain = read_frame_report(tmp_path / "none", "a", rep.boxes_xywh)
    assert plain.has_box.tolist() == [True, True, True, False, True, False] and np.all(plain.confidence == 1)
