"""One-pass-evaluation metrics for single-object tracking: the ``strict`` protocol.

All boxes are ``box_xywh`` rows ``[x, y, w, h]`` (top-left corner, size).

This module holds the project's own conventions (protocol ``strict``) and the
shared result types (:class:`SequenceResult`, :class:`Summary`). The official
toolkits' conventions (``pytracking``, ``pytracking-aio``, ``got10k``,
``lasot-toolkit``, ``tnl2k-toolkit``, ``webuav-mmot``) are reproduced exactly in
:mod:`allinone_ros.evaluation.protocols`, which is what ``allinone-metrics``
uses by default. The presets below named ``pytracking``/``got10k`` are
approximations kept for scripts and for ``--protocol strict``: ``strict``
replaces frame 1 by the ground truth *before* filling empty rows (so leading
empty rows inherit the ground truth), counts invalid ground truth as a miss in
normalised precision and needs only w, h > 0 for a valid box.

Curves (each averaged per sequence, then over sequences):

* success: fraction of frames with IoU > t, t = 0, 0.05, ..., 1 (21 values);
  **AUC = mean of the 21 values**;
* precision: centre error (centre = x + (w-1)/2) <= t px, t = 0..50;
  ``precision_20`` is the value at 20 px;
* normalised precision: centre offset divided per axis by the true w/h, then
  the L2 norm <= t, t = 0, 0.01, ..., 0.5 (51 values). Two scalars, not
  comparable with each other: ``norm_precision_at_020`` (value at 0.20, LaSOT
  MATLAB toolkit / pytracking) and ``norm_precision_mean`` (mean of the 51
  values, got10k LaSOT experiment / WebUAV-3M toolkit);
* complete success: as success with Complete-IoU (CIoU, centre = x + w/2)
  clipped to [0, 1]; **cAUC** = mean of its 21 values (WebUAV-3M toolkit);
* mAcc (Anti-UAV style): per frame, a frame whose ground truth is all zeros
  (or non-finite) is absent and scores 1 only if the prediction is empty
  (w <= 0, h <= 0 or non-finite), a present frame scores the IoU (0 for an
  empty prediction); mean over frames, then over sequences. mAcc always uses
  the predictions as written (no zero-size replacement, no first-frame
  substitution), since an empty box is how a tracker reports absence.

Conventions (:class:`Conventions`) that change the numbers:

* ``zero_size``: ``previous`` replaces a prediction with w <= 0, h <= 0 or a
  non-finite value by the previous (already fixed) box, as the MATLAB toolkits
  and pytracking do; ``keep`` scores it as it is (got10k).
* ``absent`` (frames with ``visible == False``: LaSOT full occlusion / out of
  view, GOT-10k absence, boxes with w or h <= 0): ``penalize`` scores them IoU
  -1 and centre error inf but keeps them in the denominator (pytracking,
  ``exclude_invalid_frames=False``); ``exclude`` drops them from numerator and
  denominator; ``as_is`` scores them by plain geometry against the stored box
  (got10k and its forks, including the WebUAV-3M toolkit).
* ``first_frame_groundtruth``: replace the frame-1 prediction by the ground
  truth (OPE; got10k and pytracking both do this).

Defaults per dataset for ``strict`` (:func:`default_conventions`): LaSOT, LaSOT_ext, TNL2K and
OTB99-L use ``pytracking`` (the VL-tracking papers scored with pytracking-style
scripts); WebUAV-3M uses ``got10k`` (its official toolkit is a got10k fork);
GOT-10k uses ``got10k_visible`` (GOT-10k scores only frames where the target is
visible).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Mapping, TypeVar

import numpy as np

from allinone_ros.data.sequence import Sequence
from allinone_ros.ops.boxes import nonempty_mask
from allinone_ros.ops.iou import iou_xywh

T = TypeVar("T")

LOGGER = logging.getLogger(__name__)

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS_PX = np.arange(51, dtype=np.float64)
NORM_PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0
PRECISION_INDEX_20PX = 20
NORM_PRECISION_INDEX_020 = 20
SUCCESS_INDEX_050 = 10


class ZeroSizePolicy(str, Enum):
    """What to do with a predicted box of zero (or negative / non-finite) size."""

    PREVIOUS = "previous"
    KEEP = "keep"


class AbsentPolicy(str, Enum):
    """How frames without a visible target are scored."""

    PENALIZE = "penalize"
    EXCLUDE = "exclude"
    AS_IS = "as_is"


@dataclass(frozen=True)
class Conventions:
    """Scoring conventions; see the module docstring."""

    zero_size: ZeroSizePolicy = ZeroSizePolicy.PREVIOUS
    absent: AbsentPolicy = AbsentPolicy.PENALIZE
    first_frame_groundtruth: bool = True

    def describe(self) -> str:
        """One-line human-readable description."""
        return (
            f"zero-size predictions: {self.zero_size.value}; absent frames: {self.absent.value}; "
            f"frame 1 = ground truth: {'yes' if self.first_frame_groundtruth else 'no'}"
        )


PRESETS: dict[str, Conventions] = {
    "pytracking": Conventions(ZeroSizePolicy.PREVIOUS, AbsentPolicy.PENALIZE),
    "got10k": Conventions(ZeroSizePolicy.KEEP, AbsentPolicy.AS_IS),
    "got10k_visible": Conventions(ZeroSizePolicy.KEEP, AbsentPolicy.EXCLUDE),
}

DATASET_DEFAULT_PRESET: dict[str, str] = {
    "lasot": "pytracking",
    "lasot_ext": "pytracking",
    "tnl2k": "pytracking",
    "otb99_lang": "pytracking",
    "webuav3m": "got10k",
    "got10k": "got10k_visible",
    "rosbag2": "pytracking",
}


def lookup(table: Mapping[str, T], key: str, what: str) -> T:
    """``table[key]``; otherwise a ValueError ``"<what> 'key'; expected one of ..."`` naming the choices."""
    if key not in table:
        raise ValueError(f"{what} {key!r}; expected one of {', '.join(table)}")
    return table[key]


def preset(name: str) -> Conventions:
    """Conventions of a named preset (``pytracking``, ``got10k``, ``got10k_visible``)."""
    return lookup(PRESETS, name, "unknown conventions preset")


def default_conventions(kind: str) -> Conventions:
    """Default conventions for a dataset kind (see module docstring)."""
    return PRESETS[lookup(DATASET_DEFAULT_PRESET, kind, "no default conventions for dataset kind")]


# ------------------------------------------------------------ geometry ----
def _check_boxes(boxes_xywh: np.ndarray, what: str) -> np.ndarray:
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{what}: expected an (N, 4) box_xywh array, got shape {boxes.shape}")
    return boxes


def centres_xywh(boxes_xywh: np.ndarray) -> np.ndarray:
    """Pixel-centre convention of the OTB/LaSOT toolkits: x + (w - 1) / 2."""
    return boxes_xywh[:, :2] + (boxes_xywh[:, 2:] - 1.0) / 2.0


def centre_error_xywh(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """Euclidean distance of the centres in pixels; inf where not finite."""
    pred, gt = _check_boxes(pred_xywh, "prediction"), _check_boxes(gt_xywh, "ground truth")
    err = np.linalg.norm(centres_xywh(pred) - centres_xywh(gt), axis=1)
    return np.where(np.isfinite(err), err, np.inf)


def normalized_centre_error_xywh(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """Centre offset divided per axis by the true (w, h), then L2; inf where gt w/h <= 0."""
    pred, gt = _check_boxes(pred_xywh, "prediction"), _check_boxes(gt_xywh, "ground truth")
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = (centres_xywh(pred) - centres_xywh(gt)) / gt[:, 2:]
        err = np.linalg.norm(offset, axis=1)
    return np.where(nonempty_mask(gt) & np.isfinite(err), err, np.inf)


def complete_iou_xywh(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """Complete-IoU (IoU - rho^2/c^2 - alpha*v), in [-1, 1]; 0 where either box is empty."""
    pred, gt = _check_boxes(pred_xywh, "prediction"), _check_boxes(gt_xywh, "ground truth")
    iou = iou_xywh(pred, gt)
    valid = nonempty_mask(pred) & nonempty_mask(gt)
    p, g = np.where(valid[:, None], pred, 1.0), np.where(valid[:, None], gt, 1.0)
    rho2 = np.sum(((p[:, :2] + p[:, 2:] / 2.0) - (g[:, :2] + g[:, 2:] / 2.0)) ** 2, axis=1)
    enclose_wh = np.maximum(p[:, :2] + p[:, 2:], g[:, :2] + g[:, 2:]) - np.minimum(p[:, :2], g[:, :2])
    c2 = np.sum(enclose_wh**2, axis=1)
    v = (4.0 / math.pi**2) * (np.arctan(g[:, 2] / g[:, 3]) - np.arctan(p[:, 2] / p[:, 3])) ** 2
    alpha = v / (1.0 - iou + v + np.finfo(np.float64).eps)
    ciou = iou - rho2 / c2 - alpha * v
    return np.where(valid, np.clip(ciou, -1.0, 1.0), 0.0)


def anti_uav_accuracy(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """Per-frame Anti-UAV accuracy (see module docstring)."""
    pred, gt = _check_boxes(pred_xywh, "prediction"), _check_boxes(gt_xywh, "ground truth")
    absent = np.all(gt == 0.0, axis=1) | ~np.all(np.isfinite(gt), axis=1)
    empty = ~nonempty_mask(pred)
    present_score = np.where(empty, 0.0, iou_xywh(pred, gt))
    return np.where(absent, empty.astype(np.float64), present_score)


# ------------------------------------------------------- per sequence ----
@dataclass(frozen=True, eq=False)
class FrameScores:
    """Per-frame scores of one sequence after applying the conventions.

    Penalised absent frames hold IoU/CIoU -1 and centre errors inf; ``counted``
    marks the frames in the denominator.
    """

    iou: np.ndarray
    centre_error_px: np.ndarray
    norm_centre_error: np.ndarray
    complete_iou: np.ndarray
    accuracy: np.ndarray
    counted: np.ndarray


def fill_empty_with_previous(boxes_xywh: np.ndarray) -> np.ndarray:
    """Replace each empty box by the last non-empty box before it (frame 0 kept)."""
    keep = nonempty_mask(boxes_xywh)
    keep[0] = True
    source = np.maximum.accumulate(np.where(keep, np.arange(len(boxes_xywh)), 0))
    return boxes_xywh[source]


def score_frames(
    pred_xywh: np.ndarray, gt_xywh: np.ndarray, visible: np.ndarray, conventions: Conventions
) -> FrameScores:
    """Per-frame IoU, centre errors, CIoU and Anti-UAV accuracy under ``conventions``."""
    raw = _check_boxes(pred_xywh, "prediction")
    gt = _check_boxes(gt_xywh, "ground truth")
    visible = np.asarray(visible, dtype=bool)
    if raw.shape != gt.shape or visible.shape != (gt.shape[0],):
        raise ValueError(
            f"prediction {raw.shape}, ground truth {gt.shape} and visibility {visible.shape} do not match"
        )
    boxes = raw.copy()
    if conventions.first_frame_groundtruth and len(boxes):
        boxes[0] = gt[0]
    if conventions.zero_size is ZeroSizePolicy.PREVIOUS and len(boxes):
        boxes = fill_empty_with_previous(boxes)

    iou = iou_xywh(boxes, gt)
    centre = centre_error_xywh(boxes, gt)
    norm_centre = normalized_centre_error_xywh(boxes, gt)
    ciou = np.clip(complete_iou_xywh(boxes, gt), 0.0, 1.0)
    counted = np.ones(gt.shape[0], dtype=bool)
    absent = ~visible
    if conventions.absent is AbsentPolicy.PENALIZE:
        iou[absent] = -1.0
        ciou[absent] = -1.0
        centre[absent] = np.inf
        norm_centre[absent] = np.inf
    elif conventions.absent is AbsentPolicy.EXCLUDE:
        counted = visible.copy()
    return FrameScores(iou, centre, norm_centre, ciou, anti_uav_accuracy(raw, gt), counted)


def _rate(values: np.ndarray, counted: np.ndarray, thresholds: np.ndarray, above: bool) -> np.ndarray:
    """Fraction of counted frames with value > t (``above``) or <= t, per threshold."""
    n = int(counted.sum())
    if n == 0:
        return np.full(thresholds.shape, np.nan)
    vals = values[counted][:, None]
    hits = vals > thresholds[None, :] if above else vals <= thresholds[None, :]
    return hits.sum(axis=0) / n


def success_curve(ious: np.ndarray) -> np.ndarray:
    """Fraction of the frames whose IoU (``ious``, one per frame, all counted) is above each of the 21
    ``SUCCESS_THRESHOLDS``; NaN when there is no frame."""
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)  # (n,)
    return _rate(ious, np.ones(ious.shape, dtype=bool), SUCCESS_THRESHOLDS, above=True)


def success_auc(ious: np.ndarray) -> float:
    """Success AUC of per-frame IoUs: the mean of their :func:`success_curve` (NaN when there is no frame)."""
    return float(np.mean(success_curve(ious)))


@dataclass(frozen=True, eq=False)
class SequenceResult:
    """Curves and scalars of one tracker on one sequence (curves NaN when no frame counts)."""

    name: str
    success_curve: np.ndarray
    precision_curve: np.ndarray
    norm_precision_curve: np.ndarray
    complete_success_curve: np.ndarray
    accuracy: float
    num_frames: int
    num_counted: int
    fps: float | None = None
    pooled_ious: np.ndarray | None = None  # got10k on GOT-10k: the IoUs pooled into AO / SR

    @property
    def auc(self) -> float:
        """Mean of the 21-point success curve."""
        return float(np.mean(self.success_curve))


def fps_from_times(times_s: np.ndarray | None) -> float | None:
    """Mean of 1/t over frames with t > 0 (got10k convention); None without times."""
    if times_s is None:
        return None
    positive = np.asarray(times_s, dtype=np.float64)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    return float(np.mean(1.0 / positive)) if positive.size else None


def evaluate_sequence(
    name: str,
    pred_xywh: np.ndarray,
    gt_xywh: np.ndarray,
    visible: np.ndarray,
    conventions: Conventions,
    times_s: np.ndarray | None = None,
) -> SequenceResult:
    """Score one sequence; ``pred_xywh`` and ``gt_xywh`` must have equal length."""
    try:
        scores = score_frames(pred_xywh, gt_xywh, visible, conventions)
    except ValueError as exc:
        raise ValueError(f"sequence {name!r}: {exc}") from None
    return SequenceResult(
        name=name,
        success_curve=_rate(scores.iou, scores.counted, SUCCESS_THRESHOLDS, above=True),
        precision_curve=_rate(scores.centre_error_px, scores.counted, PRECISION_THRESHOLDS_PX, above=False),
        norm_precision_curve=_rate(scores.norm_centre_error, scores.counted, NORM_PRECISION_THRESHOLDS, above=False),
        complete_success_curve=_rate(scores.complete_iou, scores.counted, SUCCESS_THRESHOLDS, above=True),
        accuracy=float(np.mean(scores.accuracy)) if scores.accuracy.size else float("nan"),
        num_frames=int(scores.iou.shape[0]),
        num_counted=int(scores.counted.sum()),
        fps=fps_from_times(times_s),
    )


def align_prediction(sequence: Sequence, pred_xywh: np.ndarray) -> np.ndarray:
    """Check a prediction against the ground truth length; cut extra rows (pytracking does too)."""
    n_gt, n_frames = sequence.boxes_xywh.shape[0], len(sequence)
    if n_gt == 1 and n_frames > 1:
        raise ValueError(
            f"sequence {sequence.name!r}: only the first ground-truth box is available ({n_frames} frames); "
            "metrics need per-frame ground truth (e.g. the GOT-10k test split cannot be scored locally)"
        )
    pred = _check_boxes(pred_xywh, f"sequence {sequence.name!r} prediction")
    if pred.shape[0] < n_gt:
        raise ValueError(f"sequence {sequence.name!r}: {pred.shape[0]} predicted boxes for {n_gt} ground-truth boxes")
    if pred.shape[0] > n_gt:
        LOGGER.warning("%s: %d predictions for %d ground-truth boxes; extra rows ignored",
                       sequence.name, pred.shape[0], n_gt)
    return pred[:n_gt]


def evaluate_tracker(
    sequences: Iterable[Sequence],
    predictions: Mapping[str, np.ndarray],
    conventions: Conventions,
    times: Mapping[str, np.ndarray] | None = None,
) -> dict[str, SequenceResult]:
    """Score every sequence; ``predictions`` maps sequence name to ``(N, 4)`` box_xywh."""
    results: dict[str, SequenceResult] = {}
    for seq in sequences:
        if seq.name not in predictions:
            raise ValueError(f"no prediction for sequence {seq.name!r}")
        pred = align_prediction(seq, predictions[seq.name])
        seq_times = None if times is None else times.get(seq.name)
        results[seq.name] = evaluate_sequence(seq.name, pred, seq.boxes_xywh, seq.visible, conventions, seq_times)
    return results


# ------------------------------------------------------------ summary ----
@dataclass(frozen=True, eq=False)
class Summary:
    """Sequence-averaged curves and the scalars reported in tables."""

    num_sequences: int
    success_curve: np.ndarray
    precision_curve: np.ndarray
    norm_precision_curve: np.ndarray
    complete_success_curve: np.ndarray
    macc: float
    fps: float | None
    protocol: str = "strict"
    norm_precision_scalar: str = "at_020"  # which nP the protocol reports: "at_020" or "mean"
    ao: float | None = None  # GOT-10k average overlap (pooled frames), got10k protocol on GOT-10k only
    sr_050: float | None = None  # pooled GOT-10k success rates when set
    sr_075: float | None = None

    @property
    def auc(self) -> float:
        """Success AUC: mean of the 21-point success curve."""
        return float(np.mean(self.success_curve))

    @property
    def norm_precision(self) -> float:
        """The normalised-precision scalar the protocol's toolkit reports."""
        return self.norm_precision_mean if self.norm_precision_scalar == "mean" else self.norm_precision_at_020

    @property
    def precision_20(self) -> float:
        """Precision at 20 px."""
        return float(self.precision_curve[PRECISION_INDEX_20PX])

    @property
    def norm_precision_at_020(self) -> float:
        """Normalised precision at 0.20 (LaSOT MATLAB toolkit, pytracking)."""
        return float(self.norm_precision_curve[NORM_PRECISION_INDEX_020])

    @property
    def norm_precision_mean(self) -> float:
        """Mean of the 51-point normalised precision curve (got10k LaSOT, WebUAV-3M toolkit)."""
        return float(np.mean(self.norm_precision_curve))

    @property
    def cauc(self) -> float:
        """Mean of the 21-point complete-success (CIoU) curve."""
        return float(np.mean(self.complete_success_curve))

    @property
    def success_rate_050(self) -> float:
        """Success rate at IoU > 0.5 (pooled over frames for GOT-10k AO/SR)."""
        if self.sr_050 is not None:
            return self.sr_050
        return float(self.success_curve[SUCCESS_INDEX_050])


def summarize(results: Iterable[SequenceResult]) -> Summary:
    """Average per-sequence curves; sequences without any counted frame are skipped."""
    items = list(results)
    if not items:
        raise ValueError("cannot summarise zero sequences")
    usable = [r for r in items if r.num_counted > 0]
    skipped = len(items) - len(usable)
    if skipped:
        LOGGER.warning("%d sequence(s) have no frame to score and are left out of the averages", skipped)

    def mean_curve(attr: str, size: int) -> np.ndarray:
        if not usable:
            return np.full(size, np.nan)
        return np.mean(np.stack([getattr(r, attr) for r in usable]), axis=0)

    fps_values = [r.fps for r in items if r.fps is not None]
    return Summary(
        num_sequences=len(usable),
        success_curve=mean_curve("success_curve", SUCCESS_THRESHOLDS.size),
        precision_curve=mean_curve("precision_curve", PRECISION_THRESHOLDS_PX.size),
        norm_precision_curve=mean_curve("norm_precision_curve", NORM_PRECISION_THRESHOLDS.size),
        complete_success_curve=mean_curve("complete_success_curve", SUCCESS_THRESHOLDS.size),
        macc=float(np.mean([r.accuracy for r in items])),
        fps=float(np.mean(fps_values)) if fps_values else None,
    )


def attribute_groups(sequences: Iterable[Sequence]) -> dict[str, list[str]]:
    """Attribute name -> names of sequences that have it.

    A scalar attribute counts when non-zero, a per-frame array when any frame is
    set (e.g. LaSOT ``full_occlusion``: the target is fully occluded somewhere).
    """
    groups: dict[str, list[str]] = {}
    for seq in sequences:
        for attr, value in seq.attributes.items():
            groups.setdefault(attr, [])
            if bool(np.any(np.asarray(value))):
                groups[attr].append(seq.name)
    return {k: v for k, v in sorted(groups.items()) if v}


def summarize_by_attribute(
    results: Mapping[str, SequenceResult], groups: Mapping[str, list[str]]
) -> dict[str, Summary]:
    """One :class:`Summary` per attribute over the sequences that have it."""
    out: dict[str, Summary] = {}
    for attr, names in groups.items():
        members = [results[n] for n in names if n in results]
        if members:
            out[attr] = summarize(members)
    return out
