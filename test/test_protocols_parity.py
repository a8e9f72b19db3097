"""Parity of every protocol with its official toolkit on small fixtures in the official layouts.

Every expected number below is derived by hand from the official code's
formulas (the derivation is in the comments), never from this project's code.
Frames are numbered from 1 as in the toolkits. Boxes are x, y, w, h.

Centre convention of every toolkit: c = x + (w - 1) / 2.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from allinone_ros.data.datasets import open_dataset
from allinone_ros.evaluation.protocols import (
    ProtocolInput,
    evaluate_protocol,
    summarize_protocol,
    summarize_protocol_by_attribute,
)
from allinone_ros.evaluation.metrics import attribute_groups
from allinone_ros.evaluation.results import TrackerResults
from fixtures_datasets import write_frames

TOL = 1e-6

# ------------------------------------------------------------------ fixture T ----
# T1 (5 frames): frame 3 touches the border (x = 0), frame 4 has an empty ground truth.
T1_GT = ["10,10,20,20", "12,10,20,20", "0,5,20,20", "0,0,0,0", "14,10,20,20"]
# a sentence-only start: two empty leading rows; frame 4 empty again
T1_PRED = ["0,0,0,0", "0,0,0,0", "2.5,5,20,20", "0,0,0,0", "15.5,11,12,18"]
# T2 (4 frames): constant target; the tracker loses it in frame 4 (empty row)
T2_GT = ["10,10,10,10"] * 4
T2_PRED = ["10,10,10,10"] * 3 + ["0,0,0,0"]
# Per-frame facts used below (hand computed):
#   T1 f2 pred 0,0,0,0 vs 12,10,20,20: IoU 0; centres (-0.5,-0.5) vs (21.5,19.5): error sqrt(22^2+20^2)=29.73 px;
#        normalised sqrt(1.1^2 + 1^2) = 1.487 (miss at every threshold)
#   T1 f3 pred 2.5,5,20,20 vs 0,5,20,20: overlap 17.5 x 20 = 350, union 450 -> IoU 7/9 = 0.778;
#        centre error 2.5 px; normalised 2.5/20 = 0.125
#   T1 f5 pred 15.5,11,12,18 vs 14,10,20,20: overlap 12 x 18 = 216, union 400 -> IoU 0.54;
#        centres (21, 19.5) vs (23.5, 19.5): 2.5 px; normalised 0.125
#   success curve thresholds t_i = 0.05 i, i = 0..20: IoU 1 is above 20 of them (not t = 1),
#        7/9 above 16 (i <= 15), 0.54 above 11 (i <= 10); AUC = mean of the 21 values.
#   normalised error 0.125 is <= t for t = 0.13..0.50 (38 of the 51 thresholds).


def _write_seq(seq_dir: Path, frame_dir: str, gt_name: str, gt_lines: list[str], name_fmt: str) -> None:
    write_frames(seq_dir / frame_dir, len(gt_lines), name_fmt=name_fmt)
    (seq_dir / gt_name).write_text("\n".join(gt_lines) + "\n")


def _write_results(tracker_dir: Path, rows: dict[str, list[str]]) -> TrackerResults:
    tracker_dir.mkdir(parents=True, exist_ok=True)
    for name, lines in rows.items():
        (tracker_dir / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return TrackerResults(tracker_dir.name, tracker_dir)


def _summary(protocol: str, kind: str, root: Path, tracker: TrackerResults, split: str | None = None):
    sequences = open_dataset(kind, root, split)
    rows = {s.name: ProtocolInput(*tracker.rows(s.name)) for s in sequences}
    per_seq = evaluate_protocol(protocol, kind, sequences, rows)
    return summarize_protocol(protocol, per_seq.values()), per_seq, sequences


@pytest.fixture()
def tnl2k(tmp_path: Path) -> tuple[Path, TrackerResults]:
    root = tmp_path / "TNL2K_test"
    _write_seq(root / "T1", "imgs", "groundtruth.txt", T1_GT, "{:05d}")
    _write_seq(root / "T2", "imgs", "groundtruth.txt", T2_GT, "{:05d}")
    return root, _write_results(tmp_path / "sentence_only", {"T1": T1_PRED, "T2": T2_PRED})


def test_pytracking_on_tnl2k(tnl2k: tuple[Path, TrackerResults]) -> None:
    root, tracker = tnl2k
    summary, per_seq, _ = _summary("pytracking", "tnl2k", root, tracker)
    # T1: f2 is filled from the *raw* frame 1 (0,0,0,0) before frame 1 becomes the ground truth;
    # f4 takes f3. valid = x, y, w, h > 0: f3 (x = 0) and f4 are invalid -> IoU -1, centre inf, normalised -1.
    # success: f1 (20 thresholds) + f5 (11) -> AUC = (11*2 + 9*1) / 5 / 21 = 31/105
    # P@20: f1, f5 -> 2/5; nP@0.20: f1, f5, and the invalid f3, f4 (-1 <= t) -> 4/5
    # T2: f4 takes f3 -> IoU 1 everywhere: AUC 20/21, P 1, nP 1
    assert per_seq["T1"].auc == pytest.approx(31 / 105, abs=TOL)
    assert summary.auc == pytest.approx((31 / 105 + 20 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((2 / 5 + 1) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((4 / 5 + 1) / 2, abs=TOL)
    assert math.isnan(summary.cauc) and math.isnan(summary.macc)


def test_pytracking_aio_fork_on_tnl2k(tnl2k: tuple[Path, TrackerResults]) -> None:
    root, tracker = tnl2k
    summary, _, _ = _summary("pytracking-aio", "tnl2k", root, tracker)
    # valid = w, h > 0: f3 (x = 0) is scored: IoU 7/9, 2.5 px, 0.125; f4 stays invalid (nP hit)
    # T1 success: i <= 10: f1 f3 f5; 11..15: f1 f3; 16..19: f1 -> (11*3 + 5*2 + 4) / 5 / 21 = 47/105
    # T1 P@20: f1 f3 f5 = 3/5; nP@0.20: f1 f3 f4 f5 = 4/5
    assert summary.auc == pytest.approx((47 / 105 + 20 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((3 / 5 + 1) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((4 / 5 + 1) / 2, abs=TOL)


def test_tnl2k_matlab_toolkit(tnl2k: tuple[Path, TrackerResults]) -> None:
    root, tracker = tnl2k
    summary, _, _ = _summary("tnl2k-toolkit", "tnl2k", root, tracker)
    # same filling as pytracking; the 0,0,0,0 ground truth of f4 is absent (the toolkit's annos/absent
    # files mark exactly those rows): removed, while the denominator stays 5 (+ eps). The border frame f3
    # (x = 0, not all > 0): IoU -1 but centre error -1 = a hit.
    # T1: AUC 31/105; P@20: f1 f3 f5 = 3/5 (f2 29.7 px misses); nP@0.20 likewise 3/5
    # T2: f4 filled from f3 -> AUC 20/21, P 1, nP 1
    assert summary.auc == pytest.approx((31 / 105 + 20 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((3 / 5 + 1) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((3 / 5 + 1) / 2, abs=TOL)


def test_got10k_lasot_experiment_on_tnl2k(tnl2k: tuple[Path, TrackerResults]) -> None:
    root, tracker = tnl2k
    summary, _, _ = _summary("got10k", "tnl2k", root, tracker)
    # no filling: T1 f2 and f4 stay 0,0,0,0. f4 vs ground truth 0,0,0,0: IoU 0, centres equal -> error 0,
    # normalised 0 / max(1, 0) = 0: both hits. Success as the aio fork: 47/105.
    # T1 P@20: f1 f3 f4 f5 = 4/5. nP = mean over linspace(0, 0.5, 51): f1, f4 hit 51, f3, f5 hit 38 -> 178/255
    # T2 f4 (0,0,0,0 vs 10,10,10,10): IoU 0, centre error sqrt(15^2 + 15^2) = 21.2 px, normalised 2.12:
    #    AUC 3/4 * 20/21 = 15/21, P@20 3/4, nP mean 3/4
    assert summary.auc == pytest.approx((47 / 105 + 15 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((4 / 5 + 3 / 4) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((178 / 255 + 3 / 4) / 2, abs=TOL)


def test_nan_rows(tnl2k: tuple[Path, TrackerResults], tmp_path: Path) -> None:
    root, _ = tnl2k
    nan_tracker = _write_results(tmp_path / "nan", {"T1": T1_PRED[:4] + ["nan,nan,nan,nan"], "T2": T2_PRED})
    # pytracking refuses NaN results ('Error: Invalid results'): so do we, naming sequence and frame
    with pytest.raises(ValueError, match=r"sequence 'T1' \(pytracking\): frame 5: NaN"):
        _summary("pytracking", "tnl2k", root, nan_tracker)
    # MATLAB: the NaN row takes f4's filled box 2.5,5,20,20. vs 14,10,20,20: overlap 8.5 x 15 = 127.5,
    # union 672.5 -> IoU 0.1896 (above t <= 0.15: 4 thresholds); centres (12, 14.5) vs (23.5, 19.5):
    # 12.54 px (a hit at 20 px), normalised sqrt(0.575^2 + 0.25^2) = 0.627 (miss)
    # T1 (f4 absent, removed): AUC (20 + 4) / 5 / 21 = 24/105; P@20 f1 f3 f5 = 3/5; nP@0.20: f1 f3 = 2/5
    summary, _, _ = _summary("tnl2k-toolkit", "tnl2k", root, nan_tracker)
    assert summary.auc == pytest.approx((24 / 105 + 20 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((3 / 5 + 1) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((2 / 5 + 1) / 2, abs=TOL)
    # got10k: a NaN row misses everything. T1: success f1 (20) + f3 (16) = 36/105; P@20 f1 f3 f4 = 3/5;
    # nP mean (51 + 38 + 51) / 255 = 140/255
    summary, _, _ = _summary("got10k", "tnl2k", root, nan_tracker)
    assert summary.auc == pytest.approx((36 / 105 + 15 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((3 / 5 + 3 / 4) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((140 / 255 + 3 / 4) / 2, abs=TOL)


# -------------------------------------------------------------- WebUAV-3M ----
def _ciou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Complete IoU from its definition (centre x + w/2), for the hand derivation."""
    (x1, y1, w1, h1), (x2, y2, w2, h2) = a, b
    iw = max(0.0, min(x1 + w1, x2 + w2) - max(x1, x2))
    ih = max(0.0, min(y1 + h1, y2 + h2) - max(y1, y2))
    iou = iw * ih / (w1 * h1 + w2 * h2 - iw * ih)
    rho2 = (x1 + w1 / 2 - x2 - w2 / 2) ** 2 + (y1 + h1 / 2 - y2 - h2 / 2) ** 2
    c2 = (max(x1 + w1, x2 + w2) - min(x1, x2)) ** 2 + (max(y1 + h1, y2 + h2) - min(y1, y2)) ** 2
    v = 4 / math.pi**2 * (math.atan(w2 / h2) - math.atan(w1 / h1)) ** 2
    return iou - rho2 / c2 - v / (1 - iou + v) * v


def test_webuav_mmot(tmp_path: Path) -> None:
    root = tmp_path / "WebUAV-3M"
    _write_seq(root / "Test" / "T1", "img", "groundtruth_rect.txt", T1_GT, "{:06d}")
    _write_seq(root / "Test" / "T2", "img", "groundtruth_rect.txt", T2_GT, "{:06d}")
    (root / "Test" / "T1" / "attributes.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n")
    (root / "Test" / "T2" / "attributes.txt").write_text("0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n")
    # frame 4 written as a single "0": "not present" for mAcc (read as 0,0,0,0 elsewhere)
    tracker = _write_results(tmp_path / "trk", {"T1": T1_PRED[:3] + ["0"] + T1_PRED[4:], "T2": T2_PRED})
    summary, per_seq, sequences = _summary("webuav-mmot", "webuav3m", root, tracker)
    # IoU and precision as got10k (no filling): AUC (47/105 + 15/21)/2, P@20 (4/5 + 3/4)/2.
    # nP divides by (w + 1e-16): T1 f4 (empty ground truth, same centre) is a hit -> 178/255; mean over
    # arange(51)/100.
    assert summary.auc == pytest.approx((47 / 105 + 15 / 21) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((4 / 5 + 3 / 4) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((178 / 255 + 3 / 4) / 2, abs=TOL)
    # cAUC: CIoU of f3 and f5 by definition; f2 and f4 (empty boxes) are NaN there -> miss
    c3, c5 = _ciou((2.5, 5, 20, 20), (0, 5, 20, 20)), _ciou((15.5, 11, 12, 18), (14, 10, 20, 20))
    assert 0.75 < c3 < 0.8 and 0.5 < c5 < 0.55  # -> above 16 and 11 thresholds
    assert summary.cauc == pytest.approx(((20 + 16 + 11) / 5 / 21 + 15 / 21) / 2, abs=TOL)
    # mAcc on the raw rows (no ground truth in frame 1): T1 f1, f2 (0,0,0,0 vs a target) 0, f3 7/9,
    # f4 absent and "0" -> 1, f5 0.54; T2: 1, 1, 1, 0
    assert summary.macc == pytest.approx(((7 / 9 + 1 + 0.54) / 5 + 3 / 4) / 2, abs=TOL)
    # per attribute: the members' curves summed and divided by ALL sequences (2)
    by_attr = summarize_protocol_by_attribute("webuav-mmot", per_seq, attribute_groups(sequences))
    assert by_attr["Low_resolution"].auc == pytest.approx((47 / 105) / 2, abs=TOL)
    assert by_attr["Low_resolution"].num_sequences == 1


def test_webuav_zero_box_is_not_an_absence_report(tmp_path: Path) -> None:
    root = tmp_path / "WebUAV-3M"
    _write_seq(root / "Test" / "T1", "img", "groundtruth_rect.txt", T1_GT, "{:06d}")
    (root / "Test" / "T1" / "attributes.txt").write_text("0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n")
    tracker = _write_results(tmp_path / "trk", {"T1": T1_PRED})
    summary, _, _ = _summary("webuav-mmot", "webuav3m", root, tracker)
    # f4 written 0,0,0,0 scores 0 on the absent frame: (7/9 + 0.54) / 5
    assert summary.macc == pytest.approx((7 / 9 + 0.54) / 5, abs=TOL)


# ------------------------------------------------------------------ LaSOT ----
def _write_lasot_seq(root: Path, name: str, gt: list[str], occlusion: str, out_of_view: str) -> None:
    seq_dir = root / name.rsplit("-", 1)[0] / name
    _write_seq(seq_dir, "img", "groundtruth.txt", gt, "{:08d}")
    (seq_dir / "full_occlusion.txt").write_text(occlusion + "\n")
    (seq_dir / "out_of_view.txt").write_text(out_of_view + "\n")
    (seq_dir / "nlp.txt").write_text("a cat\n")


@pytest.fixture()
def lasot(tmp_path: Path) -> tuple[Path, TrackerResults]:
    root = tmp_path / "LaSOT"
    # L1: f3 fully occluded (box kept), f4 touches the border (x = 0) while visible
    _write_lasot_seq(root, "cat-1", ["10,10,20,20"] * 3 + ["0,5,20,20"], "0,0,1,0", "0,0,0,0")
    # L2: out of view in f2, f3; the tracker writes empty rows there
    _write_lasot_seq(root, "cat-2", ["20,20,10,10"] * 3, "0,0,0", "0,1,1")
    # L3: occluded in every frame
    _write_lasot_seq(root, "cat-3", ["30,30,10,10"] * 2, "1,1", "0,0")
    tracker = _write_results(tmp_path / "trk", {
        "cat-1": ["0,0,0,0", "10,10,20,20", "10,10,20,20", "1.5,5,20,20"],
        "cat-2": ["20,20,10,10", "0,0,0,0", "0,0,0,0"],
        "cat-3": ["30,30,10,10"] * 2,
    })
    return root, tracker


def test_pytracking_on_lasot(lasot: tuple[Path, TrackerResults]) -> None:
    root, tracker = lasot
    summary, per_seq, sequences = _summary("pytracking", "lasot", root, tracker)
    # L1: f3 invisible, f4 invalid (x = 0): IoU -1; on LaSOT invisible frames get normalised error inf,
    #     the visible-but-invalid f4 keeps -1 (a hit). AUC 2/4 * 20/21 = 10/21, P@20 2/4, nP@0.20 3/4
    # L2: f2, f3 invisible -> AUC 1/3 * 20/21 = 20/63, P 1/3, nP 1/3.  L3: all invisible -> 0, 0, 0
    assert summary.auc == pytest.approx((10 / 21 + 20 / 63 + 0) / 3, abs=TOL)
    assert summary.precision_20 == pytest.approx((2 / 4 + 1 / 3 + 0) / 3, abs=TOL)
    assert summary.norm_precision == pytest.approx((3 / 4 + 1 / 3 + 0) / 3, abs=TOL)
    # per attribute (pytracking: mean over the members): full_occlusion = L1, L3; out_of_view = L2
    by_attr = summarize_protocol_by_attribute("pytracking", per_seq, attribute_groups(sequences))
    assert by_attr["full_occlusion"].auc == pytest.approx((10 / 21 + 0) / 2, abs=TOL)
    assert by_attr["out_of_view"].auc == pytest.approx(20 / 63, abs=TOL)


def test_lasot_matlab_toolkit(lasot: tuple[Path, TrackerResults]) -> None:
    root, tracker = lasot
    summary, per_seq, sequences = _summary("lasot-toolkit", "lasot", root, tracker)
    # absent frames removed (denominator stays the full length): L1 f1 f2 IoU 1, f4 invalid: IoU -1 but
    # centre error -1 (a hit). AUC 10/21, P@20 3/4, nP 3/4. L2: f1 only: 20/63, 1/3, 1/3.
    # L3: every frame removed -> all-zero rows, left out of the average (sum <= eps)
    assert summary.auc == pytest.approx((10 / 21 + 20 / 63) / 2, abs=TOL)
    assert summary.precision_20 == pytest.approx((3 / 4 + 1 / 3) / 2, abs=TOL)
    assert summary.norm_precision == pytest.approx((3 / 4 + 1 / 3) / 2, abs=TOL)
    # per attribute: out_of_view has one sequence (< 2: skipped); full_occlusion = L1 (L3 dropped as zero)
    by_attr = summarize_protocol_by_attribute("lasot-toolkit", per_seq, attribute_groups(sequences))
    assert set(by_attr) == {"full_occlusion"}
    assert by_attr["full_occlusion"].auc == pytest.approx(10 / 21, abs=TOL)


def test_got10k_on_lasot(lasot: tuple[Path, TrackerResults]) -> None:
    root, tracker = lasot
    summary, _, _ = _summary("got10k", "lasot", root, tracker)
    # absent frames by geometry. L1: f1-f3 IoU 1; f4 1.5,5,20,20 vs 0,5,20,20: 370/430 = 0.860 (18 thresholds)
    #   AUC (3*20 + 18) / 4 / 21 = 13/14; P 1 (1.5 px); nP: f4 0.075 <= t from 0.08: 43 -> (153 + 43) / 204
    # L2: f2, f3 empty rows: IoU 0, 35.4 px, normalised 3.5: AUC 20/63, P 1/3, nP 1/3. L3: 20/21, 1, 1
    assert summary.auc == pytest.approx((13 / 14 + 20 / 63 + 20 / 21) / 3, abs=TOL)
    assert summary.precision_20 == pytest.approx((1 + 1 / 3 + 1) / 3, abs=TOL)
    assert summary.norm_precision == pytest.approx((196 / 204 + 1 / 3 + 1) / 3, abs=TOL)


# ---------------------------------------------------------------- GOT-10k ----
def _write_got10k_seq(val: Path, name: str, size: tuple[int, int], gt: list[str], cover: list[int]) -> None:
    seq_dir = val / name
    _write_seq(seq_dir, ".", "groundtruth.txt", gt, "{:08d}")
    (seq_dir / "cover.label").write_text("".join(f"{c}\n" for c in cover))
    (seq_dir / "absence.label").write_text("".join(f"{int(c == 0)}\n" for c in cover))
    (seq_dir / "meta_info.ini").write_text(f"[METAINFO]\nobject_class: cat\nresolution: ({size[0]}, {size[1]})\n")


def test_got10k_ao_sr(tmp_path: Path) -> None:
    val = tmp_path / "GOT-10k" / "val"
    # G1: 100 x 80 image; f2 crosses the right border; f3 has cover 0
    _write_got10k_seq(val, "G1", (100, 80), ["10,10,20,20", "85,10,20,20", "40,40,20,20", "50,50,20,20"],
                      [8, 8, 0, 8])
    # G2: 50 x 50 image; f2 crosses the bottom-right corner
    _write_got10k_seq(val, "G2", (50, 50), ["5,5,10,10", "45,45,10,10", "10,10,10,10", "10,10,10,10"],
                      [8, 4, 8, 8])
    (val / "list.txt").write_text("G1\nG2\n")
    tracker = _write_results(tmp_path / "trk", {
        "G1": ["0,0,0,0", "90,10,20,20", "0,0,0,0", "50,50,20,12"],
        "G2": ["0,0,0,0", "40,40,10,10", "10,10,10,10", "10,10,10,10"],
    })
    summary, _, _ = _summary("got10k", "got10k", tmp_path / "GOT-10k", tracker, split="val")
    # frame 1 dropped; boxes clipped to the image: G1 f2 pred -> 90,10,10,20, gt -> 85,10,15,20:
    # 200 / (200 + 300 - 200) = 2/3; f3 cover 0 -> left out; f4 240 / 400 = 0.6.
    # G2 f2 gt -> 45,45,5,5: 25 / (100 + 25 - 25) = 0.25; f3, f4: 1.
    # pooled over frames: AO = (2/3 + 0.6 + 0.25 + 1 + 1) / 5; SR@0.5 = 4/5; SR@0.75 = 2/5
    assert summary.ao == pytest.approx((2 / 3 + 0.6 + 0.25 + 1 + 1) / 5, abs=TOL)
    assert summary.success_rate_050 == pytest.approx(4 / 5, abs=TOL)
    assert summary.sr_075 == pytest.approx(2 / 5, abs=TOL)


def test_default_protocol_per_dataset_and_cli_report(tmp_path: Path) -> None:
    from allinone_ros.cli.metrics import main
    from allinone_ros.evaluation.protocols import default_protocol, get_protocol

    assert {k: default_protocol(k) for k in ("lasot", "lasot_ext", "tnl2k", "otb99_lang", "webuav3m", "got10k")} \
        == {"lasot": "pytracking", "lasot_ext": "pytracking", "tnl2k": "pytracking", "otb99_lang": "pytracking",
            "webuav3m": "webuav-mmot", "got10k": "got10k"}
    with pytest.raises(ValueError, match="unknown protocol 'matlab'; expected one of pytracking, pytracking-aio"):
        get_protocol("matlab")
    val = tmp_path / "GOT-10k" / "val"
    _write_got10k_seq(val, "G1", (100, 80), ["10,10,20,20", "85,10,20,20", "40,40,20,20", "50,50,20,20"],
                      [8, 8, 0, 8])
    _write_results(tmp_path / "trk", {"G1": ["0,0,0,0", "90,10,20,20", "0,0,0,0", "50,50,20,12"]})
    code = main(["--dataset-root", str(val), "--kind", "got10k", "--results", f"trk={tmp_path / 'trk'}",
                 "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 0
    text = (tmp_path / "r" / "summary.md").read_text()
    # AO = (2/3 + 0.6) / 2 = 63.3 %, SR@0.5 = 100 %, SR@0.75 = 0 %
    assert "| trk | 1 | " in text and "| 63.3 | 0.0 |" in text and "| 100.0 |" in text
    assert "protocol: got10k (got10k toolkit 0.1.3" in text and "default for got10k" in text
