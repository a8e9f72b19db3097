"""Long-term tracking metrics: what a controller acts on (a box or none, and when).

Per frame a tracker reports a box or no box (LOST / GROUNDING) and a confidence. With the ground
truth's visibility (``absent``: fully occluded or out of view, or an empty ground-truth box):

* **Tracking precision / recall / F-score** (VOT long-term challenge): for a threshold ``tau``,
  precision = mean IoU over the frames that report a box with confidence >= tau (IoU 0 where the
  target is absent); recall = mean over the frames where the target is visible of the IoU of a box
  reported with confidence >= tau (0 for no box). Both are averaged over sequences per threshold;
  F = 2 Pr Re / (Pr + Re), and the reported F is its maximum over thresholds (with Pr, Re there).
* **Absent-frame precision / recall** of the reported state: frames reported without a box vs
  frames where the target is absent, pooled over all frames of all sequences. The start frame
  (index 0, given) is excluded everywhere.
* **Frames to re-acquire**: for every absence episode followed by a visible frame ``v``, the
  number of frames from ``v`` to the first frame reporting a box with IoU >= ``reacquire_iou``
  (0 when ``v`` itself has one); ``None`` when that does not happen before the next absence
  or the end of the sequence.
* **Switches**: a run of ``switch_frames`` or more consecutive frames reporting a box with IoU 0
  while the target is visible (the box is on something else).
* **False starts** (sequences whose sentence names an object that is not there): the share of
  sequences in which any box is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..ops.iou import box_iou_xywh
from .results import CONFIDENCE_SUFFIX, STATE_SUFFIX

THRESHOLDS = np.linspace(0.0, 1.0, 101)  # confidence thresholds for the precision/recall curves


@dataclass(frozen=True)
class FrameReport:
    """One sequence's reported output: ``has_box`` (n,) bool, ``boxes_xywh`` (n, 4), ``confidence`` (n,)."""

    has_box: np.ndarray
    boxes_xywh: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.has_box)
        if self.boxes_xywh.shape != (n, 4) or self.confidence.shape != (n,):
            raise ValueError(f"report arrays disagree: has_box {self.has_box.shape}, boxes {self.boxes_xywh.shape}, "
                             f"confidence {self.confidence.shape}")


@dataclass(frozen=True)
class SequenceLongTerm:
    name: str
    ious: np.ndarray  # (n,) IoU of the reported box with the ground truth (0: no box or absent)
    absent: np.ndarray  # (n,) bool, ground truth
    reported_absent: np.ndarray  # (n,) bool, no box reported
    precision_curve: np.ndarray  # (T,) NaN where no frame reports a box at that threshold
    recall_curve: np.ndarray  # (T,)
    reacquire_frames: tuple[int | None, ...]  # one per absence episode followed by a visible frame
    switch_runs: int  # runs of >= switch_frames frames with a box on something else


@dataclass(frozen=True)
class LongTermSummary:
    sequences: int
    f_score: float
    tracking_precision: float
    tracking_recall: float
    threshold: float
    absent_precision: float  # NaN when no frame was reported absent
    absent_recall: float  # NaN when no frame is absent
    visible_without_box: float  # share of visible frames that report no box
    auc_visible: float  # success AUC (21 thresholds) over visible frames only
    episodes: int
    reacquired_within: dict[int, float] = field(default_factory=dict)  # frames -> share of episodes
    reacquire_median: float = math.nan  # frames (inf when at most half are re-acquired)
    sequences_with_switch: int = 0

    def as_dict(self) -> dict[str, object]:
        return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in self.__dict__.items()}

    def table_row(self) -> list[str]:
        """The columns of :data:`LONG_TERM_HEADER`."""
        def pct(v: float) -> str:
            return "-" if not math.isfinite(v) else f"{100 * v:.1f}"

        within = self.reacquired_within
        return [pct(self.f_score), pct(self.tracking_precision), pct(self.tracking_recall), pct(self.absent_precision),
                pct(self.absent_recall), pct(self.visible_without_box), pct(self.auc_visible), str(self.episodes),
                pct(within.get(3, math.nan)), pct(within.get(30, math.nan)),
                "-" if not math.isfinite(self.reacquire_median) else f"{self.reacquire_median:g}",
                str(self.sequences_with_switch)]


LONG_TERM_HEADER = ["F", "Pr", "Re", "absent P", "absent R", "visible w/o box", "AUC visible", "absences",
                    "re-acq <=3", "re-acq <=30", "re-acq median", "seqs w/ switch"]


def _absent_mask(gt_xywh: np.ndarray, absent: np.ndarray | None) -> np.ndarray:
    empty = ~((gt_xywh[:, 2] > 0) & (gt_xywh[:, 3] > 0) & np.all(np.isfinite(gt_xywh), axis=1))
    return empty if absent is None else (np.asarray(absent, dtype=bool) | empty)


def evaluate_long_term(name: str, gt_xywh: np.ndarray, report: FrameReport, absent: np.ndarray | None = None,
                       reacquire_iou: float = 0.5, switch_frames: int = 5) -> SequenceLongTerm:
    """Per-sequence long-term figures; frame 0 (the given start) is left out."""
    gt = np.asarray(gt_xywh, dtype=np.float64)  # (n, 4)
    n = len(gt)
    if len(report.has_box) != n:
        raise ValueError(f"{name}: {len(report.has_box)} reported frames for {n} ground-truth frames")
    is_absent = _absent_mask(gt, absent)[1:]
    has_box = np.asarray(report.has_box, dtype=bool)[1:]
    ious = np.zeros(n - 1)
    for i in np.flatnonzero(has_box & ~is_absent):
        ious[i] = box_iou_xywh(report.boxes_xywh[i + 1], gt[i + 1])
    conf = np.asarray(report.confidence, dtype=np.float64)[1:]
    precision, recall = np.full(len(THRESHOLDS), np.nan), np.zeros(len(THRESHOLDS))
    visible = ~is_absent
    for k, tau in enumerate(THRESHOLDS):
        shown = has_box & (conf >= tau)
        if shown.any():
            precision[k] = ious[shown].mean()
        recall[k] = ious[shown & visible].sum() / visible.sum() if visible.any() else math.nan
    return SequenceLongTerm(name, ious, is_absent, ~has_box, precision, recall,
                            _reacquire(is_absent, has_box, ious, reacquire_iou), _switches(has_box, visible, ious,
                                                                                           switch_frames))


def _reacquire(absent: np.ndarray, has_box: np.ndarray, ious: np.ndarray, need_iou: float) -> tuple[int | None, ...]:
    out: list[int | None] = []
    n = len(absent)
    i = 0
    while i < n:
        if not absent[i]:
            i += 1
            continue
        while i < n and absent[i]:
            i += 1
        if i >= n:
            break
        v, found = i, None
        while i < n and not absent[i]:
            if found is None and has_box[i] and ious[i] >= need_iou:
                found = i - v
            i += 1
        out.append(found)
    return tuple(out)


def _switches(has_box: np.ndarray, visible: np.ndarray, ious: np.ndarray, run: int) -> int:
    wrong = has_box & visible & (ious <= 0.0)
    runs, length = 0, 0
    for w in wrong:
        length = length + 1 if w else 0
        if length == run:
            runs += 1
    return runs


def summarize_long_term(results: list[SequenceLongTerm], within: tuple[int, ...] = (3, 10, 30)) -> LongTermSummary:
    if not results:
        raise ValueError("no sequences to summarise")
    curves = np.stack([r.precision_curve for r in results])  # (S, T), NaN where a sequence shows no box
    shown = np.isfinite(curves)
    precision = np.where(shown.any(axis=0), np.where(shown, curves, 0.0).sum(axis=0) / np.maximum(shown.sum(axis=0), 1),
                         np.nan)  # (T,) mean over the sequences that show a box at that threshold
    recall = np.nanmean(np.stack([r.recall_curve for r in results]), axis=0)  # (T,)
    f = np.where(np.isfinite(precision) & (precision + recall > 0),
                 2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1.0), 0.0)
    best = int(np.argmax(f))
    absent = np.concatenate([r.absent for r in results])
    reported = np.concatenate([r.reported_absent for r in results])
    ious = np.concatenate([r.ious for r in results])
    hits = float((absent & reported).sum())
    episodes = [e for r in results for e in r.reacquire_frames]
    delays = np.array([math.inf if e is None else float(e) for e in episodes])
    visible = ~absent
    success = [(ious[visible] > t).mean() for t in np.linspace(0, 1, 21)] if visible.any() else [math.nan]
    return LongTermSummary(
        sequences=len(results), f_score=float(f[best]), tracking_precision=float(precision[best]),
        tracking_recall=float(recall[best]), threshold=float(THRESHOLDS[best]),
        absent_precision=hits / reported.sum() if reported.any() else math.nan,
        absent_recall=hits / absent.sum() if absent.any() else math.nan,
        visible_without_box=float((reported & visible).sum() / max(visible.sum(), 1)),
        auc_visible=float(np.mean(success)), episodes=len(episodes),
        reacquired_within={k: float((delays <= k).mean()) if len(delays) else math.nan for k in within},
        reacquire_median=float(np.median(delays)) if len(delays) else math.nan,
        sequences_with_switch=sum(1 for r in results if r.switch_runs > 0),
    )


def false_start_rate(reports: list[FrameReport]) -> float:
    """Share of runs (sentence naming an absent object) that reported a box on any frame."""
    if not reports:
        raise ValueError("no runs given")
    return float(np.mean([bool(np.asarray(r.has_box, dtype=bool).any()) for r in reports]))


def write_frame_report(tracker_dir: str | Path, seq_name: str, states: list[str], confidences: np.ndarray) -> None:
    """``<seq>_state.txt`` (one state name per frame) and ``<seq>_confidence.txt`` beside the box file."""
    out = Path(tracker_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(states) != len(confidences):
        raise ValueError(f"{seq_name}: {len(states)} states for {len(confidences)} confidences")
    (out / f"{seq_name}{STATE_SUFFIX}").write_text("".join(f"{s}\n" for s in states))
    (out / f"{seq_name}{CONFIDENCE_SUFFIX}").write_text("".join(f"{float(c):.6f}\n" for c in confidences))


def read_frame_report(tracker_dir: str | Path, seq_name: str, boxes_xywh: np.ndarray) -> FrameReport:
    """The report of one sequence: boxes from the result file, states and confidences from their files.

    Without a state file a frame has a box when its box is non-empty; without a confidence file every
    box counts with confidence 1 (a tracker that does not report one).
    """
    base = Path(tracker_dir)
    boxes = np.asarray(boxes_xywh, dtype=np.float64)  # (n, 4)
    n = len(boxes)
    state_file, conf_file = base / f"{seq_name}{STATE_SUFFIX}", base / f"{seq_name}{CONFIDENCE_SUFFIX}"
    valid = np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    if state_file.is_file():
        states = [line.strip() for line in state_file.read_text(encoding="utf-8-sig").splitlines()]
        if len(states) != n:
            raise ValueError(f"{state_file}: {len(states)} lines for {n} frames in the box file")
        has_box = np.array([s == "TRACKING" for s in states]) & valid
    else:
        has_box = valid
    confidence = np.ones(n)
    if conf_file.is_file():
        lines = conf_file.read_text(encoding="utf-8-sig").splitlines()
        if len(lines) != n:
            raise ValueError(f"{conf_file}: {len(lines)} lines for {n} frames in the box file")
        try:
            confidence = np.array([float(v) for v in lines])
        except ValueError as exc:
            raise ValueError(f"{conf_file}: not one number per line ({exc})") from exc
    return FrameReport(has_box, np.where(valid[:, None], boxes, 0.0), confidence)
