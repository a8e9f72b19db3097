"""Per-sequence scoring exactly as each official toolkit does it.

Every function takes the prediction as read from the result file (``(N, 4)``
box_xywh, already cut to the ground-truth length) and the ground truth, and
returns per-frame values that the caller turns into curves. Read the module
docstring of :mod:`allinone_ros.evaluation.protocols` for the conventions; the
comments here name the official code each step reproduces.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Thresholds as each toolkit builds them: the last bits matter when a value sits exactly on a
# threshold (e.g. torch.arange gives 0.6500000000000001 where 13 * 0.05 is 0.65).
OVERLAP_THRESHOLDS_LINSPACE = np.linspace(0.0, 1.0, 21)  # got10k, MMOT (np.linspace)
# pytracking: torch.arange(0.0, 1.05, 0.05, dtype=torch.float64), built by torch as there
OVERLAP_THRESHOLDS_TORCH = torch.arange(0.0, 1.0 + 0.05, 0.05, dtype=torch.float64).numpy().copy()
# MATLAB toolkits: 0:0.05:1 as Octave 7 builds it (k * 0.05; MATLAB proper may round 0.6, 0.65,
# 0.7, 0.85, 0.95 one unit in the last place lower, which matters only for an IoU exactly equal to one)
OVERLAP_THRESHOLDS_OCTAVE = np.arange(21, dtype=np.float64) * 0.05
CENTRE_THRESHOLDS_PX = np.arange(51, dtype=np.float64)
NORM_THRESHOLDS_DIV100 = np.arange(51, dtype=np.float64) / 100.0  # pytracking, MATLAB, MMOT
NORM_THRESHOLDS_LINSPACE = np.linspace(0.0, 0.5, 51)  # got10k LaSOT experiment
GOT10K_AO_THRESHOLDS = np.linspace(0.0, 1.0, 101)
EPS = float(np.finfo(np.float64).eps)


class InvalidResultError(ValueError):
    """A result the official toolkit itself refuses (pytracking: 'Error: Invalid results')."""


def centres(boxes: np.ndarray) -> np.ndarray:
    """OTB pixel centre ``x + (w - 1) / 2`` used by every toolkit for precision."""
    return boxes[:, :2] + (boxes[:, 2:] - 1.0) / 2.0


# -------------------------------------------------------------- pytracking ----
def pytracking_frames(
    pred: np.ndarray, gt: np.ndarray, target_visible: np.ndarray | None, lasot: bool, require_xy: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, centre error and normalised centre error as ``calc_seq_err_robust`` (pytracking analysis).

    ``require_xy``: validity needs x, y, w, h > 0 (visionml/pytracking) instead of
    only w, h > 0 (the All-in-One / OSTrack fork). ``lasot``: the dataset-name
    special case that scores invisible frames inf in both centre errors.
    """
    bad = np.isnan(pred).any(axis=1) | (pred[:, 2:] < 0.0).any(axis=1)
    if bad.any():
        frame = int(np.argmax(bad)) + 1
        raise InvalidResultError(
            f"frame {frame}: NaN or negative size {pred[frame - 1].tolist()} "
            "(pytracking refuses such result files: 'Error: Invalid results')"
        )
    if np.isnan(gt).any():
        frame = int(np.argmax(np.isnan(gt).any(axis=1))) + 1
        raise InvalidResultError(f"ground-truth frame {frame} is NaN (pytracking refuses: 'NaNs in annotation')")
    boxes = pred.copy()
    for i in range(1, len(boxes)):  # fill from the raw previous row, before frame 1 is replaced
        if boxes[i, 2] == 0.0 or boxes[i, 3] == 0.0:
            boxes[i] = boxes[i - 1]
    boxes[0] = gt[0]
    positive = (gt > 0.0) if require_xy else (gt[:, 2:] > 0.0)
    valid = positive.all(axis=1)
    if target_visible is not None:
        valid &= target_visible
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = centres(boxes) - centres(gt)
        err_center = np.sqrt(np.sum(delta**2, axis=1))
        norm_delta = centres(boxes) / gt[:, 2:] - centres(gt) / gt[:, 2:]
        err_norm = np.sqrt(np.sum(norm_delta**2, axis=1))
        top_left = np.maximum(boxes[:, :2], gt[:, :2])
        bottom_right = np.minimum(boxes[:, :2] + boxes[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
        inter = np.prod(np.clip(bottom_right - top_left + 1.0, 0.0, None), axis=1)
        union = np.prod(boxes[:, 2:], axis=1) + np.prod(gt[:, 2:], axis=1) - inter
        iou = inter / union
    err_center[~valid] = np.inf
    err_norm[~valid] = -1.0
    iou[~valid] = -1.0
    if lasot and target_visible is not None:
        err_norm[~target_visible] = np.inf
        err_center[~target_visible] = np.inf
    if np.isnan(iou).any():
        frame = int(np.argmax(np.isnan(iou))) + 1
        raise InvalidResultError(f"frame {frame}: IoU is NaN (pytracking refuses: 'Nans in calculated overlap')")
    return iou, err_center, err_norm


def float32_rate(values: np.ndarray, thresholds: np.ndarray, length: int, above: bool) -> np.ndarray:
    """``(hits).sum(0).float() / seq_length``: counts divided in float32 as pytracking stores them."""
    hits = values[:, None] > thresholds[None, :] if above else values[:, None] <= thresholds[None, :]
    return (hits.sum(axis=0).astype(np.float32) / np.float32(length)).astype(np.float64)


# ------------------------------------------------------ LaSOT / TNL2K MATLAB ----
def matlab_rect_int(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``calc_rect_int.m``: pixel-inclusive intersection over union."""
    right_a, top_a = a[:, 0] + a[:, 2] - 1.0, a[:, 1] + a[:, 3] - 1.0
    right_b, top_b = b[:, 0] + b[:, 2] - 1.0, b[:, 1] + b[:, 3] - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        iw = np.maximum(0.0, np.minimum(right_a, right_b) - np.maximum(a[:, 0], b[:, 0]) + 1.0)
        ih = np.maximum(0.0, np.minimum(top_a, top_b) - np.maximum(a[:, 1], b[:, 1]) + 1.0)
        inter = iw * ih
        return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def matlab_frames(
    pred: np.ndarray, gt: np.ndarray, absent: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``calc_seq_err_robust.m`` of the LaSOT and TNL2K toolkits (identical code).

    Returns IoU, centre error and normalised centre error of the frames that are
    not absent (absent frames are removed, the denominator stays the full length).
    """
    boxes = pred.copy()
    for i in range(1, len(boxes)):
        r = boxes[i]
        broken = bool(np.isnan(r).any() or r[2] <= 0 or r[3] <= 0)
        if broken and not np.isnan(gt[i]).any():
            boxes[i] = boxes[i - 1]
    boxes[0] = gt[0]
    keep = np.ones(len(gt), dtype=bool) if absent is None else ~absent
    rect, anno = boxes[keep], gt[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        err_center = np.sqrt(np.sum((centres(rect) - centres(anno)) ** 2, axis=1))
        err_norm = np.sqrt(np.sum((centres(rect) / anno[:, 2:] - centres(anno) / anno[:, 2:]) ** 2, axis=1))
        idx = (anno > 0).all(axis=1)
    iou = -np.ones(len(anno))
    iou[idx] = matlab_rect_int(rect[idx], anno[idx])
    err_center[~idx] = -1.0  # an invalid ground truth counts as a precision hit in these toolkits
    err_norm[~idx] = -1.0
    return iou, err_center, err_norm


def counted_rate(values: np.ndarray, thresholds: np.ndarray, denominator: float, above: bool) -> np.ndarray:
    """Number of values above (or at most) each threshold divided by ``denominator``."""
    with np.errstate(invalid="ignore"):
        hits = values[:, None] > thresholds[None, :] if above else values[:, None] <= thresholds[None, :]
    return hits.sum(axis=0) / denominator


# ------------------------------------------------------------------ got10k ----
def got10k_rect_iou(a: np.ndarray, b: np.ndarray, bound: tuple[float, float] | None = None) -> np.ndarray:
    """``got10k.utils.metrics.rect_iou``: continuous IoU, union + eps, clipped to [0, 1]; boxes clipped to bound."""
    a, b = a.copy(), b.copy()
    if bound is not None:
        for r in (a, b):
            r[:, 0] = np.clip(r[:, 0], 0, bound[0])
            r[:, 1] = np.clip(r[:, 1], 0, bound[1])
            r[:, 2] = np.clip(r[:, 2], 0, bound[0] - r[:, 0])
            r[:, 3] = np.clip(r[:, 3], 0, bound[1] - r[:, 1])
    with np.errstate(invalid="ignore"):
        iw = np.maximum(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0)
        ih = np.maximum(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
        inter = iw * ih
        union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
        return np.clip(inter / (union + EPS), 0.0, 1.0)


def got10k_frames(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """got10k ``ExperimentLaSOT``: frame 1 = ground truth, NaN ground-truth rows dropped, nP / max(1, w|h)."""
    boxes = pred.copy()
    boxes[0] = gt[0]
    valid = ~np.isnan(gt).any(axis=1)
    boxes, anno = boxes[valid], gt[valid]
    iou = got10k_rect_iou(boxes, anno)
    with np.errstate(invalid="ignore"):
        delta = centres(boxes) - centres(anno)
        err_center = np.sqrt(np.sum(delta**2, axis=1))
        err_norm = np.sqrt(np.sum((delta / np.maximum(1.0, anno[:, 2:])) ** 2, axis=1))
    return iou, err_center, err_norm


def got10k_ao_ious(
    pred: np.ndarray, gt: np.ndarray, cover: np.ndarray, bound: tuple[float, float]
) -> np.ndarray:
    """``ExperimentGOT10k.report``: frame 1 dropped, boxes clipped to the image, frames with cover > 0."""
    if np.isnan(pred[1:]).any():
        frame = int(np.argmax(np.isnan(pred[1:]).any(axis=1))) + 2
        raise InvalidResultError(f"frame {frame}: NaN box (the GOT-10k toolkit would report AO = NaN)")
    ious = got10k_rect_iou(pred[1:], gt[1:], bound=bound)
    return ious[cover[1:] > 0]


# -------------------------------------------------------------------- MMOT ----
def mmot_ciou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``rect_iou_complete`` of the MMOT toolkit: CIoU clamped to [-1, 1] then clipped to [0, 1] (NaN kept)."""
    w1, h1, w2, h2 = a[:, 2], a[:, 3], b[:, 2], b[:, 3]
    cx1, cy1, cx2, cy2 = a[:, 0] + w1 / 2, a[:, 1] + h1 / 2, b[:, 0] + w2 / 2, b[:, 1] + h2 / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        inter_w = np.minimum(cx1 + w1 / 2, cx2 + w2 / 2) - np.maximum(cx1 - w1 / 2, cx2 - w2 / 2)
        inter_h = np.minimum(cy1 + h1 / 2, cy2 + h2 / 2) - np.maximum(cy1 - h1 / 2, cy2 - h2 / 2)
        inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
        c_w = np.clip(np.maximum(cx1 + w1 / 2, cx2 + w2 / 2) - np.minimum(cx1 - w1 / 2, cx2 - w2 / 2), 0, None)
        c_h = np.clip(np.maximum(cy1 + h1 / 2, cy2 + h2 / 2) - np.minimum(cy1 - h1 / 2, cy2 - h2 / 2), 0, None)
        u = ((cx2 - cx1) ** 2 + (cy2 - cy1) ** 2) / (c_w**2 + c_h**2)
        iou = inter / (w1 * h1 + w2 * h2 - inter)
        v = (4 / math.pi**2) * (np.arctan(w2 / h2) - np.arctan(w1 / h1)) ** 2
        alpha = v / (1 - iou + v + EPS)
        ciou = iou - u - alpha * v
    return np.clip(np.clip(ciou, -1.0, 1.0), 0.0, 1.0)


def mmot_frames(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, ...]:
    """MMOT ``ExperimentWebUAV3M``: frame 1 = ground truth, no filling, nP divides by (w|h + 1e-16)."""
    boxes = pred.copy()
    boxes[0] = gt[0]
    iou = got10k_rect_iou(boxes, gt)
    with np.errstate(invalid="ignore", divide="ignore"):
        err_center = np.sqrt(np.sum((centres(boxes) - centres(gt)) ** 2, axis=1))
        scale = gt[:, 2:] + 1e-16
        err_norm = np.sqrt(np.sum((centres(boxes) / scale - centres(gt) / scale) ** 2, axis=1))
    return iou, err_center, mmot_ciou(boxes, gt), err_norm


def mmot_accuracy(pred: np.ndarray, gt: np.ndarray, zero_lines: np.ndarray) -> float:
    """``WebUAV-3M_Accuracy_Evaluation.py``: raw predictions, absent = ground truth 0,0,0,0.

    An absent frame scores 1 only when the result line is a single ``0``
    (``zero_lines``); a present frame scores the IoU (0 without overlap or for a
    ``0`` line). A NaN in a present frame's box makes the mean NaN, as there.
    """
    exist = ~(gt == 0).all(axis=1)
    a, b = pred, gt
    with np.errstate(invalid="ignore", divide="ignore"):
        ow = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
        oh = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
        inter = ow * oh
        iou = inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)
    iou = np.where((ow <= 0) | (oh <= 0), 0.0, iou)
    present = np.where(zero_lines, 0.0, iou)
    per_frame = np.where(exist, present, zero_lines.astype(np.float64))
    return float(np.mean(per_frame)) if per_frame.size else float("nan")
