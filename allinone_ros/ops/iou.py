"""Intersection over union of ``box_xywh`` boxes: the one implementation the tracker lifecycle,
the evaluation metrics and the backend benchmark use.

The official toolkits' own variants (got10k's rectangle IoU with image bounds, WebUAV-3M's
Complete-IoU) live in :mod:`allinone_ros.evaluation.toolkits`: they reproduce those formulas
digit for digit and are deliberately separate.
"""
from __future__ import annotations

import numpy as np


def _as_rows(boxes_xywh: np.ndarray, what: str) -> np.ndarray:
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{what}: expected an (N, 4) box_xywh array, got shape {boxes.shape}")
    return boxes


def iou_xywh(a_xywh: np.ndarray, b_xywh: np.ndarray) -> np.ndarray:
    """(N,) IoU in [0, 1] of matching rows of two (N, 4) ``box_xywh`` arrays.

    0 where either box is empty (w <= 0 or h <= 0) or holds a non-finite value.
    """
    a, b = _as_rows(a_xywh, "first boxes"), _as_rows(b_xywh, "second boxes")
    if a.shape != b.shape:
        raise ValueError(f"IoU of {a.shape[0]} boxes with {b.shape[0]} boxes: the row counts must match")
    with np.errstate(invalid="ignore", divide="ignore"):
        inter_w = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])  # (N,)
        inter_h = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])  # (N,)
        inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
        area_a = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None)
        area_b = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
        union = area_a + area_b - inter
        iou = np.where(union > 0, inter / union, 0.0)
    # (x + w) - x can exceed w by rounding: clip so identical boxes never score above 1
    return np.clip(np.where(np.isfinite(iou), iou, 0.0), 0.0, 1.0)


def box_iou_xywh(a_xywh: np.ndarray, b_xywh: np.ndarray) -> float:
    """IoU of two single ``box_xywh`` (4 values each): :func:`iou_xywh` of one row."""
    return float(iou_xywh(np.reshape(a_xywh, (1, 4)), np.reshape(b_xywh, (1, 4)))[0])
