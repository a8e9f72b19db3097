"""Metrics: hand-computed cases per convention, and agreement with the got10k toolkit."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from allinone_ros.data.sequence import Sequence, read_sequence_dir
from allinone_ros.evaluation.metrics import (
    AbsentPolicy,
    Conventions,
    ZeroSizePolicy,
    align_prediction,
    anti_uav_accuracy,
    attribute_groups,
    centre_error_xywh,
    complete_iou_xywh,
    default_conventions,
    evaluate_sequence,
    evaluate_tracker,
    normalized_centre_error_xywh,
    preset,
    summarize,
    summarize_by_attribute,
)
from allinone_ros.ops.iou import iou_xywh
from allinone_ros.evaluation.results import TrackerResults, write_result
from fixtures_datasets import write_boxes, write_frames

PYTRACKING = Conventions(ZeroSizePolicy.PREVIOUS, AbsentPolicy.PENALIZE)
GOT10K = Conventions(ZeroSizePolicy.KEEP, AbsentPolicy.AS_IS)

# Case B, 4 frames. gt: target, target, absent (all zeros), target.
GT = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0], [0, 0, 10, 10]], dtype=float)
VISIBLE = np.array([True, True, False, True])
# pred: exact, shifted 5 px right (IoU 1/3), empty on the absent frame, empty on a visible frame
PRED = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=float)


def _seq(name: str, boxes: np.ndarray, visible: np.ndarray, attributes: dict | None = None) -> Sequence:
    frames = tuple(Path(f"{name}/{i:08d}.jpg") for i in range(len(boxes)))
    return Sequence(name, frames, boxes, visible, "", attributes or {})


# ----------------------------------------------------------- geometry ----
def test_iou_centre_and_normalized_errors_by_hand() -> None:
    gt = np.array([[0, 0, 10, 10]] * 4, dtype=float)
    pred = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5], [3, 4, 10, 10]], dtype=float)
    # [5,0,10,10]: inter 5*10=50, union 100+100-50=150 -> 1/3; identical -> 1; disjoint -> 0
    # [3,4,10,10]: inter 7*6=42, union 200-42=158 -> 42/158
    np.testing.assert_allclose(iou_xywh(pred, gt), [1 / 3, 1.0, 0.0, 42 / 158])
    # centres x+(w-1)/2: gt (4.5,4.5); [3,4,10,10] -> (7.5,8.5): sqrt(3^2+4^2) = 5
    # [20,20,5,5] -> (22,22): sqrt(17.5^2*2)
    np.testing.assert_allclose(centre_error_xywh(pred, gt), [5.0, 0.0, 17.5 * math.sqrt(2), 5.0])
    # normalised: offset / (10, 10): (0.5,0) -> 0.5; (0.3,0.4) -> 0.5
    np.testing.assert_allclose(normalized_centre_error_xywh(pred, gt), [0.5, 0.0, 1.75 * math.sqrt(2), 0.5])


def test_invalid_boxes_give_zero_iou_and_infinite_errors() -> None:
    pred = np.array([[0, 0, 0, 0], [np.nan, 0, 1, 1], [1, 1, 4, 4]], dtype=float)
    gt = np.array([[0, 0, 0, 0], [0, 0, 4, 4], [0, 0, 0, 5]], dtype=float)
    np.testing.assert_array_equal(iou_xywh(pred, gt), [0.0, 0.0, 0.0])
    assert np.isinf(centre_error_xywh(pred, gt)[1])
    # normalised error is undefined for a zero-size ground truth
    assert np.all(np.isinf(normalized_centre_error_xywh(pred, gt)[[0, 2]]))


def test_complete_iou_by_hand() -> None:
    gt = np.array([[0, 0, 10, 10]] * 3, dtype=float)
    pred = np.array([[5, 0, 10, 10], [0, 0, 20, 10], [0, 0, 10, 10]], dtype=float)
    # row 0: IoU 1/3; centres (x+w/2): (10,5) vs (5,5) -> rho^2 = 25; enclosing 15x10 -> c^2 = 325;
    #        same aspect ratio -> v = 0.  CIoU = 1/3 - 25/325 = 10/39
    # row 1: IoU 100/200 = 0.5; rho^2 = 25; enclosing 20x10 -> c^2 = 500;
    #        v = 4/pi^2 * (atan(10/10) - atan(20/10))^2, alpha = v / (1 - 0.5 + v)
    v = 4 / math.pi**2 * (math.atan(1.0) - math.atan(2.0)) ** 2
    row1 = 0.5 - 25 / 500 - v / (0.5 + v) * v  # ~= 0.446752
    np.testing.assert_allclose(complete_iou_xywh(pred, gt), [10 / 39, row1, 1.0], rtol=1e-12)
    assert complete_iou_xywh(np.array([[0, 0, 0, 0.0]]), gt[:1])[0] == 0.0


def test_anti_uav_accuracy_by_hand() -> None:
    # frame 0: IoU 1; frame 1: IoU 1/3; frame 2: absent gt + empty pred -> 1; frame 3: empty pred on target -> 0
    np.testing.assert_allclose(anti_uav_accuracy(PRED, GT), [1.0, 1 / 3, 1.0, 0.0])
    # a box on an absent frame scores 0
    assert anti_uav_accuracy(np.array([[1, 1, 2, 2.0]]), np.zeros((1, 4)))[0] == 0.0


# -------------------------------------------------------- conventions ----
def test_pytracking_convention_by_hand() -> None:
    r = evaluate_sequence("b", PRED, GT, VISIBLE, PYTRACKING)
    # zero-size frame 3 takes frame 2's box, itself frame 1's [5,0,10,10] -> IoU 1/3.
    # IoU = [1, 1/3, -1 (absent), 1/3], denominator 4.
    # t = 0..0.30 (7 values): 3/4; t = 0.35..0.95 (13 values): 1/4; t = 1: 0
    expected_success = [0.75] * 7 + [0.25] * 13 + [0.0]
    np.testing.assert_allclose(r.success_curve, expected_success)
    assert r.auc == pytest.approx((7 * 0.75 + 13 * 0.25) / 21)  # = 17/42
    # centre errors [0, 5, inf, 5]: 1/4 for t < 5 px, 3/4 from 5 px on
    np.testing.assert_allclose(r.precision_curve, [0.25] * 5 + [0.75] * 46)
    # normalised errors [0, 0.5, inf, 0.5]: 1/4 up to 0.49, 3/4 at 0.50
    np.testing.assert_allclose(r.norm_precision_curve, [0.25] * 50 + [0.75])
    # CIoU [1, 10/39 (~0.256), -1, 10/39]: t = 0..0.25 (6 values): 3/4; 0.30..0.95 (14): 1/4
    np.testing.assert_allclose(r.complete_success_curve, [0.75] * 6 + [0.25] * 14 + [0.0])
    # mAcc uses the raw predictions: (1 + 1/3 + 1 + 0) / 4 = 7/12
    assert r.accuracy == pytest.approx(7 / 12)
    assert (r.num_frames, r.num_counted) == (4, 4)


def test_got10k_convention_by_hand() -> None:
    r = evaluate_sequence("b", PRED, GT, VISIBLE, GOT10K)
    # zero-size kept: IoU = [1, 1/3, 0, 0]; t = 0..0.30: 2/4; 0.35..0.95: 1/4
    np.testing.assert_allclose(r.success_curve, [0.5] * 7 + [0.25] * 13 + [0.0])
    assert r.auc == pytest.approx((7 * 0.5 + 13 * 0.25) / 21)  # = 9/28
    # centres: frame 2 empty pred (-0.5,-0.5) == empty gt centre -> 0 px;
    # frame 3 (-0.5,-0.5) vs (4.5,4.5) -> sqrt(50) ~= 7.07 px
    # errors [0, 5, 0, 7.07]: t<5: 2/4, 5..7: 3/4, >=8: 4/4
    np.testing.assert_allclose(r.precision_curve, [0.5] * 5 + [0.75] * 3 + [1.0] * 43)


def test_exclude_absent_frames_by_hand() -> None:
    excl_keep = evaluate_sequence("b", PRED, GT, VISIBLE, Conventions(ZeroSizePolicy.KEEP, AbsentPolicy.EXCLUDE))
    # counted frames 0, 1, 3 with IoU [1, 1/3, 0]: 2/3 up to 0.30, 1/3 up to 0.95 -> AUC = 3/7
    assert excl_keep.num_counted == 3
    assert excl_keep.auc == pytest.approx((7 * 2 / 3 + 13 / 3) / 21)
    excl_prev = evaluate_sequence("b", PRED, GT, VISIBLE, Conventions(ZeroSizePolicy.PREVIOUS, AbsentPolicy.EXCLUDE))
    # IoU [1, 1/3, 1/3]: 3/3 up to 0.30, 1/3 after -> AUC = (7 + 13/3)/21 = 34/63
    assert excl_prev.auc == pytest.approx(34 / 63)


def test_first_frame_is_ground_truth_by_default() -> None:
    pred = PRED.copy()
    pred[0] = [50, 50, 5, 5]
    with_gt = evaluate_sequence("b", pred, GT, VISIBLE, PYTRACKING)
    raw = evaluate_sequence("b", pred, GT, VISIBLE, Conventions(first_frame_groundtruth=False))
    assert with_gt.auc == pytest.approx(17 / 42)
    # frame 0 now scores IoU 0: IoU [0, 1/3, -1, 1/3] -> 2/4 up to 0.30, 0 after -> AUC = 3.5/21
    assert raw.auc == pytest.approx(7 * 0.5 / 21)


def test_summary_averages_sequences_not_frames() -> None:
    perfect = evaluate_sequence("a", GT[:2], GT[:2], VISIBLE[:2], PYTRACKING)  # AUC 20/21
    case_b = evaluate_sequence("b", PRED, GT, VISIBLE, PYTRACKING)  # AUC 17/42
    summary = summarize([perfect, case_b])
    assert summary.num_sequences == 2
    assert summary.auc == pytest.approx((20 / 21 + 17 / 42) / 2)  # 19/28
    # P@20: perfect 1, case B 3/4 -> 7/8
    assert summary.precision_20 == pytest.approx(0.875)
    # nP@0.20: 1 and 1/4; mean of 51 points: 1 and 13.25/51
    assert summary.norm_precision_at_020 == pytest.approx(0.625)
    assert summary.norm_precision_mean == pytest.approx((1 + 13.25 / 51) / 2)
    # cAUC: perfect 20/21, case B (6*0.75 + 14*0.25)/21 = 8/21
    assert summary.cauc == pytest.approx((20 / 21 + 8 / 21) / 2)
    assert summary.macc == pytest.approx((1 + 7 / 12) / 2)
    assert summary.success_rate_050 == pytest.approx((1 + 0.25) / 2)
    assert summary.fps is None


def test_sequence_without_counted_frames_is_left_out() -> None:
    absent = np.array([False, False])
    empty = evaluate_sequence("gone", np.zeros((2, 4)), np.zeros((2, 4)), absent, preset("got10k_visible"))
    assert empty.num_counted == 0 and np.all(np.isnan(empty.success_curve))
    perfect = evaluate_sequence("a", GT[:2], GT[:2], VISIBLE[:2], PYTRACKING)
    assert summarize([empty, perfect]).auc == pytest.approx(20 / 21)


def test_fps_from_times() -> None:
    r = evaluate_sequence("a", GT[:2], GT[:2], VISIBLE[:2], PYTRACKING, times_s=np.array([0.1, 0.2]))
    assert r.fps == pytest.approx((10 + 5) / 2)


def test_align_prediction_lengths() -> None:
    seq = _seq("s", GT, VISIBLE)
    longer = np.vstack([PRED, PRED[:1]])
    np.testing.assert_array_equal(align_prediction(seq, longer), PRED)
    with pytest.raises(ValueError, match=r"sequence 's': 3 predicted boxes for 4 ground-truth boxes"):
        align_prediction(seq, PRED[:3])
    first_only = Sequence("t", seq.frame_paths, GT[:1], VISIBLE[:1], "")
    with pytest.raises(ValueError, match="only the first ground-truth box"):
        align_prediction(first_only, PRED)
    with pytest.raises(ValueError, match="no prediction for sequence 's'"):
        evaluate_tracker([seq], {}, PYTRACKING)
    with pytest.raises(ValueError, match=r"expected an \(N, 4\) box_xywh array"):
        align_prediction(seq, np.zeros((4, 3)))


def test_attribute_breakdown() -> None:
    a = _seq("a", GT[:2], VISIBLE[:2], {"Fast_motion": 1, "full_occlusion": np.array([False, False])})
    b = _seq("b", GT, VISIBLE, {"Fast_motion": 0, "full_occlusion": np.array([False, False, True, False])})
    groups = attribute_groups([a, b])
    # scalar: non-zero; per-frame array: any frame set
    assert groups == {"Fast_motion": ["a"], "full_occlusion": ["b"]}
    results = evaluate_tracker([a, b], {"a": GT[:2], "b": PRED}, PYTRACKING)
    by_attr = summarize_by_attribute(results, groups)
    assert by_attr["Fast_motion"].auc == pytest.approx(20 / 21)
    assert by_attr["full_occlusion"].auc == pytest.approx(17 / 42)


def test_default_conventions_per_dataset() -> None:
    assert default_conventions("lasot") == PYTRACKING
    assert default_conventions("tnl2k") == PYTRACKING
    assert default_conventions("webuav3m") == GOT10K
    assert default_conventions("got10k") == Conventions(ZeroSizePolicy.KEEP, AbsentPolicy.EXCLUDE)
    with pytest.raises(ValueError, match="unknown conventions preset 'matlab'"):
        preset("matlab")


# ---------------------------------------------------- got10k cross-check ----
def _got10k_scores(result_file: Path, gt_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence curves computed by the got10k toolkit's own functions (OTB experiment)."""
    from got10k.experiments.otb import ExperimentOTB
    from got10k.utils.metrics import center_error, rect_iou

    boxes = np.loadtxt(result_file, delimiter=",")
    anno = np.loadtxt(gt_file, delimiter=",")
    boxes[0] = anno[0]
    experiment = SimpleNamespace(nbins_iou=21, nbins_ce=51)
    return ExperimentOTB._calc_curves(experiment, rect_iou(boxes, anno), center_error(boxes, anno))


def _random_sequence_files(tmp_path: Path, rng: np.random.Generator, name: str, n: int) -> tuple[Path, np.ndarray]:
    seq_dir = tmp_path / "data" / name
    write_frames(seq_dir / "img", n)
    xy = rng.uniform(20, 200, size=(n, 2))
    wh = rng.uniform(10, 80, size=(n, 2))
    gt = np.round(np.hstack([xy, wh]), 2)
    write_boxes(seq_dir / "groundtruth.txt", gt)
    pred = gt + np.hstack([rng.normal(0, 12, size=(n, 2)), rng.normal(0, 6, size=(n, 2))])
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    return seq_dir, pred


@pytest.mark.parametrize("conventions", [PYTRACKING, GOT10K], ids=["pytracking", "got10k"])
def test_equal_to_got10k_toolkit_without_absent_or_zero_size(tmp_path: Path, conventions: Conventions) -> None:
    rng = np.random.default_rng(7)
    tracker = TrackerResults("t", tmp_path / "results")
    sequences, toolkit_succ, toolkit_prec = [], [], []
    for k, n in enumerate((40, 25, 60)):
        seq_dir, pred = _random_sequence_files(tmp_path, rng, f"seq{k}", n)
        write_result(tracker.directory, seq_dir.name, pred)
        seq = read_sequence_dir(seq_dir)
        assert seq.visible.all()
        sequences.append(seq)
        succ, prec = _got10k_scores(tracker.directory / f"{seq.name}.txt", seq_dir / "groundtruth.txt")
        toolkit_succ.append(succ)
        toolkit_prec.append(prec)
    ours = evaluate_tracker(sequences, {s.name: tracker.boxes(s.name) for s in sequences}, conventions)
    for seq, succ, prec in zip(sequences, toolkit_succ, toolkit_prec):
        np.testing.assert_allclose(ours[seq.name].success_curve, succ, atol=1e-9, rtol=0)
        np.testing.assert_allclose(ours[seq.name].precision_curve, prec, atol=1e-9, rtol=0)
    summary = summarize(ours.values())
    # got10k's report: mean curve over sequences, success_score = mean, precision_score = curve[20]
    mean_succ, mean_prec = np.mean(toolkit_succ, axis=0), np.mean(toolkit_prec, axis=0)
    np.testing.assert_allclose(summary.success_curve, mean_succ, atol=1e-9, rtol=0)
    assert abs(summary.auc - np.mean(mean_succ)) < 1e-9
    assert abs(summary.precision_20 - mean_prec[20]) < 1e-9
    # the random predictions leave a non-trivial score
    assert 0.2 < summary.auc < 0.9


def test_where_got10k_differs_zero_size_and_absent(tmp_path: Path) -> None:
    """On case B, got10k matches our got10k convention and differs from the pytracking default."""
    seq_dir = tmp_path / "b"
    write_frames(seq_dir / "img", 4)
    write_boxes(seq_dir / "groundtruth.txt", GT)
    result = write_result(tmp_path / "results", "b", PRED)
    succ, prec = _got10k_scores(result, seq_dir / "groundtruth.txt")
    seq = read_sequence_dir(seq_dir)
    np.testing.assert_array_equal(seq.visible, VISIBLE)

    got10k_like = evaluate_tracker([seq], {"b": PRED}, GOT10K)["b"]
    np.testing.assert_allclose(got10k_like.success_curve, succ, atol=1e-9, rtol=0)
    np.testing.assert_allclose(got10k_like.precision_curve, prec, atol=1e-9, rtol=0)

    default = evaluate_tracker([seq], {"b": PRED}, default_conventions("lasot"))["b"]
    # zero-size frame 3: got10k IoU 0, pytracking re-uses the previous box (IoU 1/3)
    # -> success at t=0: got10k 2/4, pytracking 3/4
    assert succ[0] == pytest.approx(0.5)
    assert default.success_curve[0] == pytest.approx(0.75)
    # absent frame 2: got10k compares the empty prediction with the empty box, centre error 0,
    # and counts it precise; pytracking gives it centre error inf -> P@20: 4/4 vs 3/4
    assert prec[20] == pytest.approx(1.0)
    assert default.precision_curve[20] == pytest.approx(0.75)


def test_success_auc_of_per_frame_ious() -> None:
    from allinone_ros.evaluation.metrics import success_auc, success_curve

    # IoU 1.0 is above 20 of the 21 thresholds 0, 0.05, ..., 1 (not 1 itself), 0.5 above 10 (0..0.45), 0.0 above none
    curve = success_curve(np.array([1.0, 0.5, 0.0]))
    assert curve[0] == pytest.approx(2 / 3) and curve[10] == pytest.approx(1 / 3) and curve[20] == 0.0
    assert success_auc(np.array([1.0, 0.5, 0.0])) == pytest.approx((20 + 10 + 0) / (3 * 21))
    assert math.isnan(success_auc(np.array([])))
