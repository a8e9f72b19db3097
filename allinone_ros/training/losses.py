"""Training losses of the All-in-One tracker (pure torch).

The objective (architecture spec, "Training objective")::

    total = 2.0 * GIoU + 5.0 * L1 + 1.0 * focal + CMA + IMA
    CMA   = 0.5 * NT-Xent(vision_x, language) * 0.5 + 0.5 * NT-Xent(vision_z, language) * 0.5
    IMA   = 0.5 * NT-Xent(vision_x, vision_z)

Box formats are named: ``box_xyxy`` = (x1, y1, x2, y2), ``box_cxcywh`` = (cx, cy, w, h); all
boxes here are normalised to the search crop ([0, 1] covers the crop).

Gaussian centre heatmap (CenterNet style, as the OSTrack code base the release is built on):
the box is scaled to the ``feat_size`` grid, the centre cell is ``round(cx * feat_size)``
(``torch.round``: halves go to the even integer), the radius is
``floor(max(0, gaussian_radius(w, h, 0.7)))`` and the Gaussian has
``sigma = (2 * radius + 1) / 6`` and is cut to the ``(2r+1) x (2r+1)`` window. See
:func:`gaussian_radius` for the two radius variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

RadiusVariant = Literal["centernet", "exact"]

_EPS = 1e-7


def _check_boxes(boxes: Tensor, name: str) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {tuple(boxes.shape)}")
    if not bool(torch.isfinite(boxes).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def box_cxcywh_to_xyxy(box_cxcywh: Tensor) -> Tensor:
    """(cx, cy, w, h) -> (x1, y1, x2, y2) along the last dimension."""
    cx, cy, w, h = box_cxcywh.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


# --------------------------------------------------------------------------- focal loss


def _at_least_float32(t: Tensor) -> Tensor:
    """Losses are computed in float32 when autocast hands over float16/bfloat16 tensors."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def focal_loss(
    pred_heatmap: Tensor, gt_heatmap: Tensor, alpha: float = 2.0, beta: float = 4.0, eps: float = 1e-4
) -> Tensor:
    """CenterNet focal loss, normalised by the number of positive cells in the batch.

    ``pred_heatmap`` and ``gt_heatmap`` are ``(B, 1, H, W)``; predictions are probabilities in
    [0, 1] (values outside, e.g. logits passed by mistake, or NaN raise ``ValueError``). They are
    clamped to ``[eps, 1 - eps]`` -- the score head's own clamp, which bfloat16 autocast rounds to
    exactly 1.0 -- and the loss is computed in float32 or wider. Positive cells are those where
    ``gt == 1``::

        pos = sum_{gt==1} (1 - p)^alpha * log(p)
        neg = sum_{gt<1}  (1 - gt)^beta * p^alpha * log(1 - p)
        loss = -(pos + neg) / max(num_pos, 1)
    """
    if pred_heatmap.ndim != 4 or pred_heatmap.shape[1] != 1:
        raise ValueError(f"pred_heatmap must have shape (B, 1, H, W), got {tuple(pred_heatmap.shape)}")
    if pred_heatmap.shape != gt_heatmap.shape:
        raise ValueError(
            f"pred_heatmap shape {tuple(pred_heatmap.shape)} differs from gt_heatmap shape {tuple(gt_heatmap.shape)}"
        )
    values = pred_heatmap.detach()
    low, high = float(values.min()), float(values.max())
    if not (0.0 <= low and high <= 1.0):  # also false for NaN
        raise ValueError(f"pred_heatmap values must be probabilities in [0, 1], got range [{low}, {high}]")
    pred = _at_least_float32(pred_heatmap).clamp(eps, 1.0 - eps)
    gt = gt_heatmap.to(pred.dtype)
    positive = gt.eq(1).to(pred.dtype)
    negative = 1.0 - positive
    pos_term = torch.log(pred) * (1.0 - pred).pow(alpha) * positive
    neg_term = torch.log1p(-pred) * pred.pow(alpha) * (1.0 - gt).pow(beta) * negative
    num_pos = positive.sum().clamp_min(1.0)
    return -(pos_term.sum() + neg_term.sum()) / num_pos


# --------------------------------------------------------------------------- heatmap target


def gaussian_radius(
    width: Tensor, height: Tensor, min_overlap: float = 0.7, variant: RadiusVariant = "centernet"
) -> Tensor:
    """Radius ``r`` of the CornerNet/CenterNet Gaussian for a ``width x height`` box (same units).

    With overlap ``o``, three ways of moving both box corners by ``r`` give quadratics in ``r``:

    * A, box shifted diagonally by ``r``: ``r^2 - (w+h) r + w h (1-o)/(1+o) = 0``;
    * B, both corners moved inward by ``r``: ``4 r^2 - 2 (w+h) r + (1-o) w h = 0``;
    * C, both corners moved outward by ``r``: ``4o r^2 + 2o (w+h) r - (1-o) w h = 0``.

    ``variant="exact"``: the largest ``r`` that keeps IoU >= ``o`` in all three cases, i.e. the
    minimum over A, B of the smaller root and over C of the positive root (each root divided by
    ``2a``). ``variant="centernet"`` (default): the expression used by CenterNet and by OSTrack,
    on which the released tracker was trained: for every case ``(-b' + sqrt(disc)) / 2`` with
    ``b' = -(w+h), -2(w+h), 2o(w+h)`` -- i.e. the larger root for A and B and no division by
    ``a`` -- then the minimum. It gives larger radii than ``"exact"`` (for a 4x4 box at
    ``o=0.7``: 1.09 vs 0.33 cells).
    """
    if not 0.0 < min_overlap < 1.0:
        raise ValueError(f"min_overlap must be in (0, 1), got {min_overlap}")
    o = min_overlap
    s = width + height
    area = width * height
    sqrt_a = torch.sqrt((s * s - 4.0 * area * (1.0 - o) / (1.0 + o)).clamp_min(0.0))
    sqrt_b = torch.sqrt((4.0 * s * s - 16.0 * (1.0 - o) * area).clamp_min(0.0))
    sqrt_c = torch.sqrt((4.0 * o * o * s * s + 16.0 * o * (1.0 - o) * area).clamp_min(0.0))
    if variant == "centernet":
        r_a = (s + sqrt_a) / 2.0
        r_b = (2.0 * s + sqrt_b) / 2.0
        r_c = (-2.0 * o * s + sqrt_c) / 2.0
    elif variant == "exact":
        r_a = (s - sqrt_a) / 2.0
        r_b = (2.0 * s - sqrt_b) / 8.0
        r_c = (-2.0 * o * s + sqrt_c) / (8.0 * o)
    else:
        raise ValueError(f"variant must be 'centernet' or 'exact', got {variant!r}")
    return torch.minimum(r_a, torch.minimum(r_b, r_c))


def gaussian_center_heatmap(
    box_cxcywh: Tensor,
    feat_size: int = 16,
    min_overlap: float = 0.7,
    radius_variant: RadiusVariant = "centernet",
) -> Tensor:
    """Gaussian centre heatmaps ``(B, 1, feat_size, feat_size)`` for normalised ``box_cxcywh`` (B, 4).

    The peak (value exactly 1) is at cell ``(round(cy * feat_size), round(cx * feat_size))``,
    clamped into the grid so that every map has one positive cell (OSTrack draws nothing when
    the rounded centre falls on ``feat_size``; a jittered search crop keeps the centre inside).
    """
    _check_boxes(box_cxcywh, "box_cxcywh")
    if feat_size < 1:
        raise ValueError(f"feat_size must be >= 1, got {feat_size}")
    boxes = box_cxcywh.detach().to(torch.float32)
    if bool((boxes[:, 2:] < 0).any()):
        raise ValueError(f"box_cxcywh widths and heights must be >= 0, got {boxes[:, 2:].tolist()}")
    scaled = boxes * feat_size
    radius = gaussian_radius(scaled[:, 2], scaled[:, 3], min_overlap, radius_variant).clamp_min(0.0).floor()
    centre = torch.round(scaled[:, :2]).clamp(0, feat_size - 1)
    sigma = (2.0 * radius + 1.0) / 6.0
    grid = torch.arange(feat_size, dtype=torch.float32, device=boxes.device)
    dx = grid[None, :] - centre[:, 0:1]  # (B, W)
    dy = grid[None, :] - centre[:, 1:2]  # (B, H)
    dist2 = dy[:, :, None] ** 2 + dx[:, None, :] ** 2
    gauss = torch.exp(-dist2 / (2.0 * sigma[:, None, None] ** 2))
    window = (dy.abs() <= radius[:, None])[:, :, None] & (dx.abs() <= radius[:, None])[:, None, :]
    heat = torch.where(window, gauss, torch.zeros_like(gauss))
    return heat.unsqueeze(1).to(box_cxcywh.dtype if box_cxcywh.is_floating_point() else torch.float32)


# --------------------------------------------------------------------------- box losses


def giou_loss(pred_xyxy: Tensor, gt_xyxy: Tensor) -> tuple[Tensor, Tensor]:
    """Generalised-IoU loss ``mean(1 - GIoU)`` and the per-box IoU ``(N,)``.

    Both inputs are ``(N, 4)`` ``box_xyxy`` with ``x2 >= x1`` and ``y2 >= y1``.
    Unions and enclosing areas are clamped to 1e-7 so two empty boxes give IoU 0, not NaN.
    """
    _check_boxes(pred_xyxy, "pred_xyxy")
    _check_boxes(gt_xyxy, "gt_xyxy")
    if pred_xyxy.shape != gt_xyxy.shape:
        raise ValueError(f"pred_xyxy shape {tuple(pred_xyxy.shape)} differs from gt_xyxy {tuple(gt_xyxy.shape)}")
    for name, boxes in (("pred_xyxy", pred_xyxy), ("gt_xyxy", gt_xyxy)):
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bool(bad.any()):
            first = int(torch.nonzero(bad)[0, 0])
            raise ValueError(f"{name} row {first} has x2 < x1 or y2 < y1: {boxes[first].tolist()}")
    area_p = (pred_xyxy[:, 2] - pred_xyxy[:, 0]) * (pred_xyxy[:, 3] - pred_xyxy[:, 1])
    area_g = (gt_xyxy[:, 2] - gt_xyxy[:, 0]) * (gt_xyxy[:, 3] - gt_xyxy[:, 1])
    inter_wh = (torch.minimum(pred_xyxy[:, 2:], gt_xyxy[:, 2:]) - torch.maximum(pred_xyxy[:, :2], gt_xyxy[:, :2]))
    inter = inter_wh.clamp_min(0.0).prod(dim=1)
    union = area_p + area_g - inter
    iou = inter / union.clamp_min(_EPS)
    hull_wh = torch.maximum(pred_xyxy[:, 2:], gt_xyxy[:, 2:]) - torch.minimum(pred_xyxy[:, :2], gt_xyxy[:, :2])
    hull = hull_wh.prod(dim=1)
    giou = iou - (hull - union) / hull.clamp_min(_EPS)
    return (1.0 - giou).mean(), iou


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute difference over all elements (``torch.nn.L1Loss`` with mean reduction)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    return (pred - target).abs().mean()


# --------------------------------------------------------------------------- contrastive


def nt_xent(a: Tensor, b: Tensor, temperature: float = 0.5) -> Tensor:
    """SimCLR NT-Xent loss for ``N`` pairs ``(a[i], b[i])`` of ``D``-dim embeddings.

    The ``2N`` views ``z = [a; b]`` are compared by cosine similarity divided by
    ``temperature``; for view ``i`` with partner ``j`` (``i +- N``)::

        l_i = -log( exp(s_ij) / sum_{k != i} exp(s_ik) )

    and the loss is ``sum_i l_i / (2N)``.
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"nt_xent inputs must be (N, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"nt_xent inputs must have equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] < 1:
        raise ValueError("nt_xent needs at least one pair, got N=0")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = a.shape[0]
    z = F.normalize(torch.cat((a, b), dim=0), dim=1)
    logits = z @ z.t() / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    partners = torch.cat((idx + n, idx))
    return F.cross_entropy(logits, partners, reduction="sum") / (2 * n)


# --------------------------------------------------------------------------- combined


@dataclass(frozen=True)
class LossWeights:
    """Weights of the training objective (defaults: the release's configuration).

    ``cma_search`` and ``cma_template`` are the ``0.5 * ... * 0.5`` factors of the two CMA terms
    (vision_x with language, vision_z with language); ``ima`` the ``0.5`` of NT-Xent(vision_x,
    vision_z).
    """

    giou: float = 2.0
    l1: float = 5.0
    focal: float = 1.0
    cma_search: float = 0.25
    cma_template: float = 0.25
    ima: float = 0.5
    temperature: float = 0.5
    min_overlap: float = 0.7

    def __post_init__(self) -> None:
        for name in ("giou", "l1", "focal", "cma_search", "cma_template", "ima"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"loss weight {name} must be finite and >= 0, got {value}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 < self.min_overlap < 1.0:
            raise ValueError(f"min_overlap must be in (0, 1), got {self.min_overlap}")


class TrackingLoss(nn.Module):
    """The full objective; ``forward`` returns ``(total, components)``.

    Inputs (all normalised to the search crop):

    * ``pred_boxes_cxcywh`` (B, 4): the decoded box of the centre head;
    * ``pred_score_map`` (B, 1, S, S): the score map, probabilities in [0, 1];
    * ``gt_box_cxcywh`` (B, 4): the target in the search crop (unclamped);
    * ``vision_x``, ``vision_z``, ``language`` (B, D): the alignment-head embeddings. Give all
      three or none; with none, CMA and IMA are left out;
    * ``present`` (B,) bool, optional: False marks a negative pair (target absent from the search
      crop). Its heat map is empty (the focal loss pushes its scores down) and it takes no part in
      the box and alignment losses, which average over the present pairs only.

    Float16/bfloat16 inputs (autocast) are promoted to float32 before any loss is computed.
    ``components`` holds detached ``giou``, ``l1``, ``focal``, ``cma``, ``ima`` (when present),
    ``iou`` (mean IoU, for monitoring) and ``total``.
    """

    def __init__(self, weights: LossWeights | None = None) -> None:
        super().__init__()
        self.weights = weights if weights is not None else LossWeights()

    def forward(
        self,
        pred_boxes_cxcywh: Tensor,
        pred_score_map: Tensor,
        gt_box_cxcywh: Tensor,
        vision_x: Tensor | None = None,
        vision_z: Tensor | None = None,
        language: Tensor | None = None,
        present: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        w = self.weights
        pred_boxes_cxcywh = _at_least_float32(pred_boxes_cxcywh)
        gt_box_cxcywh = _at_least_float32(gt_box_cxcywh)
        vision_x, vision_z, language = (
            None if v is None else _at_least_float32(v) for v in (vision_x, vision_z, language)
        )
        _check_boxes(pred_boxes_cxcywh, "pred_boxes_cxcywh")
        _check_boxes(gt_box_cxcywh, "gt_box_cxcywh")
        if pred_boxes_cxcywh.shape != gt_box_cxcywh.shape:
            raise ValueError(
                f"pred_boxes_cxcywh shape {tuple(pred_boxes_cxcywh.shape)} differs from "
                f"gt_box_cxcywh shape {tuple(gt_box_cxcywh.shape)}"
            )
        if pred_score_map.ndim != 4 or pred_score_map.shape[-1] != pred_score_map.shape[-2]:
            raise ValueError(f"pred_score_map must be (B, 1, S, S), got {tuple(pred_score_map.shape)}")

        if present is None:
            keep = torch.ones(gt_box_cxcywh.shape[0], dtype=torch.bool, device=gt_box_cxcywh.device)
        else:
            keep = present.to(device=gt_box_cxcywh.device, dtype=torch.bool)
            if keep.shape != gt_box_cxcywh.shape[:1]:
                raise ValueError(f"present must have shape ({gt_box_cxcywh.shape[0]},), got {tuple(keep.shape)}")
        pred_xyxy = box_cxcywh_to_xyxy(pred_boxes_cxcywh[keep])
        gt_xyxy = box_cxcywh_to_xyxy(gt_box_cxcywh[keep]).clamp(0.0, 1.0)
        if bool(keep.any()):
            loss_giou, iou = giou_loss(pred_xyxy, gt_xyxy)
            loss_l1 = l1_loss(pred_xyxy, gt_xyxy)
        else:  # only negatives: no box to regress
            loss_giou = loss_l1 = pred_boxes_cxcywh.sum() * 0.0
            iou = pred_boxes_cxcywh.new_full((1,), float("nan"))
        gt_heat = gaussian_center_heatmap(gt_box_cxcywh, pred_score_map.shape[-1], w.min_overlap)
        gt_heat = gt_heat * keep.to(gt_heat.dtype)[:, None, None, None]  # (B, 1, S, S), empty for negatives
        loss_focal = focal_loss(pred_score_map, gt_heat)
        total = w.giou * loss_giou + w.l1 * loss_l1 + w.focal * loss_focal
        components = {"giou": loss_giou, "l1": loss_l1, "focal": loss_focal}

        given = {"vision_x": vision_x, "vision_z": vision_z, "language": language}
        missing = [name for name, value in given.items() if value is None]
        if 0 < len(missing) < 3:
            raise ValueError(f"alignment losses need vision_x, vision_z and language together; missing {missing}")
        if not missing and int(keep.sum()) >= 2:  # NT-Xent needs two pairs
            assert vision_x is not None and vision_z is not None and language is not None
            vx, vz, vl = vision_x[keep], vision_z[keep], language[keep]
            cma = w.cma_search * nt_xent(vx, vl, w.temperature) + w.cma_template * nt_xent(vz, vl, w.temperature)
            ima = w.ima * nt_xent(vx, vz, w.temperature)
            total = total + cma + ima
            components["cma"] = cma
            components["ima"] = ima
        components["iou"] = iou.mean()
        components["total"] = total
        return total, {name: value.detach() for name, value in components.items()}


# --------------------------------------------------------------------------- schedule


def keep_rate_schedule(
    epoch: float, warmup_start: float = 20, warmup_end: float = 100, base_keep: float = 0.7
) -> float:
    """Candidate-elimination keep rate for ``epoch`` (OSTrack's ``adjust_keep_rate`` as used there).

    1.0 before ``warmup_start``, ``base_keep`` from ``warmup_end`` on, and in between a
    half-cosine decay::

        base + (1 - base) * (1 + cos(pi * (epoch - start) / (end - start))) / 2

    OSTrack calls it once per epoch (``ITERS_PER_EPOCH=1``, start = CE_START_EPOCH 20,
    end = start + CE_WARM_EPOCH 80 = 100); a fractional ``epoch`` gives the per-iteration form.
    """
    if not epoch >= 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    if not 0 <= warmup_start < warmup_end:
        raise ValueError(f"need 0 <= warmup_start < warmup_end, got {warmup_start} and {warmup_end}")
    if not 0.0 < base_keep <= 1.0:
        raise ValueError(f"base_keep must be in (0, 1], got {base_keep}")
    if epoch < warmup_start:
        return 1.0
    if epoch >= warmup_end:
        return float(base_keep)
    progress = (epoch - warmup_start) / (warmup_end - warmup_start)
    return float(base_keep + (1.0 - base_keep) * 0.5 * (1.0 + math.cos(math.pi * progress)))
