"""Losses and schedules of the training objective, checked against hand arithmetic."""

from __future__ import annotations

import math

import pytest
import torch

from allinone_ros.training.losses import (
    LossWeights,
    TrackingLoss,
    focal_loss,
    gaussian_center_heatmap,
    gaussian_radius,
    giou_loss,
    keep_rate_schedule,
    l1_loss,
    nt_xent,
)

# ----------------------------------------------------------------------------- focal loss


def test_focal_loss_single_map_by_hand() -> None:
    # gt = [[1, 0.5], [0, 0]], pred = [[0.8, 0.5], [0.1, 0.2]]; one positive cell.
    # positive (0.8):       (1-0.8)^2 * log(0.8)              = 0.04 * log 0.8
    # negative gt=0.5, 0.5: (1-0.5)^4 * 0.5^2 * log(0.5)       = 0.0625 * 0.25 * log 0.5
    # negative gt=0, 0.1:   1 * 0.1^2 * log(0.9)               = 0.01 * log 0.9
    # negative gt=0, 0.2:   1 * 0.2^2 * log(0.8)               = 0.04 * log 0.8
    expected = -(0.04 * math.log(0.8) + 0.0625 * 0.25 * math.log(0.5) + 0.01 * math.log(0.9) + 0.04 * math.log(0.8))
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]], dtype=torch.float64)
    pred = torch.tensor([[[[0.8, 0.5], [0.1, 0.2]]]], dtype=torch.float64)
    assert focal_loss(pred, gt).item() == pytest.approx(expected, rel=1e-12)


def test_focal_loss_normalises_by_positives_of_the_whole_batch() -> None:
    # Two maps, one positive each, predictions 0.5 at the positives and 0.25 elsewhere (gt 0):
    # per map: 0.25 * log 0.5 (positive) + 3 * 0.0625 * log 0.75 (negatives); divided by 2 positives.
    per_map = 0.25 * math.log(0.5) + 3 * 0.0625 * math.log(0.75)
    expected = -(2 * per_map) / 2
    gt = torch.zeros(2, 1, 2, 2, dtype=torch.float64)
    gt[0, 0, 0, 0] = 1.0
    gt[1, 0, 1, 1] = 1.0
    pred = torch.full((2, 1, 2, 2), 0.25, dtype=torch.float64)
    pred[0, 0, 0, 0] = 0.5
    pred[1, 0, 1, 1] = 0.5
    assert focal_loss(pred, gt).item() == pytest.approx(expected, rel=1e-12)


def test_focal_loss_without_positives_is_the_plain_negative_sum() -> None:
    # No cell equals 1: the loss is -sum of negative terms (divided by max(0, 1) = 1).
    # cells gt=0 with pred 0.5: 4 * 0.25 * log 0.5
    gt = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    pred = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64)
    assert focal_loss(pred, gt).item() == pytest.approx(-math.log(0.5), rel=1e-12)


def test_focal_loss_rejects_non_probabilities() -> None:
    gt = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got range \[-0.5, 1.5\]"):
        focal_loss(torch.tensor([[[[-0.5, 0.5], [0.5, 1.5]]]]), gt)
    with pytest.raises(ValueError, match="probabilities"):
        focal_loss(torch.full((1, 1, 2, 2), float("nan")), gt)
    with pytest.raises(ValueError, match="shape"):
        focal_loss(torch.full((1, 1, 2, 2), 0.5), torch.zeros(1, 1, 3, 3))


def test_focal_loss_of_bfloat16_saturated_scores_is_finite_and_uses_the_head_clamp() -> None:
    # bfloat16 rounds the head's clamp 1 - 1e-4 to exactly 1.0. The loss clamps back to
    # [1e-4, 1 - 1e-4] in float32: one positive cell at p = 1 - 1e-4 and three negatives (gt 0)
    # at p = 1 - 1e-4 give -(1e-8 * log(1 - 1e-4) + 3 * (1 - 1e-4)^2 * log(1e-4)).
    p = 1.0 - 1e-4
    expected = -(1e-8 * math.log(p) + 3 * p * p * math.log(1e-4))
    gt = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    pred = torch.ones(1, 1, 2, 2, dtype=torch.bfloat16)
    loss = focal_loss(pred, gt)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected, rel=1e-4)


# ----------------------------------------------------------------------------- heatmap


def test_gaussian_radius_both_variants_for_a_4x4_box() -> None:
    # w = h = 4, o = 0.7; s = w + h = 8, area = 16.
    # disc_A = 64 - 4*16*0.3/1.7 = 52.70588...; sqrt = 7.259882
    # disc_B = 4*64 - 16*0.3*16 = 179.2;        sqrt = 13.386560
    # disc_C = 4*0.49*64 + 16*0.7*0.3*16 = 179.2
    sqrt_a, sqrt_bc = math.sqrt(64 - 4 * 16 * 0.3 / 1.7), math.sqrt(179.2)
    centernet = min((8 + sqrt_a) / 2, (16 + sqrt_bc) / 2, (-11.2 + sqrt_bc) / 2)  # = 1.09328
    exact = min((8 - sqrt_a) / 2, (16 - sqrt_bc) / 8, (-11.2 + sqrt_bc) / 5.6)  # = 0.32668
    w = torch.tensor([4.0], dtype=torch.float64)
    assert gaussian_radius(w, w, 0.7, "centernet").item() == pytest.approx(centernet, rel=1e-9)
    assert gaussian_radius(w, w, 0.7, "exact").item() == pytest.approx(exact, rel=1e-9)
    assert centernet == pytest.approx(1.09328, abs=1e-5)
    assert exact == pytest.approx(0.32668, abs=1e-5)


def test_gaussian_radius_exact_variant_keeps_iou_at_min_overlap() -> None:
    # The exact radius is the largest corner shift with IoU >= 0.7 in all three cases, so at
    # least one case sits exactly at IoU 0.7. Check with boxes 6 x 3.
    w, h, o = 6.0, 3.0, 0.7
    r = gaussian_radius(torch.tensor([w]), torch.tensor([h]), o, "exact").item()
    iou_shift = (w - r) * (h - r) / (2 * w * h - (w - r) * (h - r))
    iou_inner = (w - 2 * r) * (h - 2 * r) / (w * h)
    iou_outer = w * h / ((w + 2 * r) * (h + 2 * r))
    ious = [iou_shift, iou_inner, iou_outer]
    assert min(ious) == pytest.approx(o, abs=1e-5)
    assert all(iou >= o - 1e-5 for iou in ious)


def test_heatmap_peak_at_rounded_centre_with_centernet_radius_one() -> None:
    # cx = 0.53 -> 8.48 -> column 8; cy = 0.27 -> 4.32 -> row 4; w = h = 0.25 -> 4 cells
    # -> radius floor(1.093) = 1, sigma = 3/6 = 0.5, so 2*sigma^2 = 0.5:
    # edge neighbours exp(-1/0.5) = exp(-2), diagonal exp(-2/0.5) = exp(-4), 0 outside 3x3.
    heat = gaussian_center_heatmap(torch.tensor([[0.53, 0.27, 0.25, 0.25]]), feat_size=16)
    assert heat.shape == (1, 1, 16, 16)
    hm = heat[0, 0]
    assert hm[4, 8].item() == 1.0
    assert torch.nonzero(hm == 1.0).tolist() == [[4, 8]]
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        assert hm[4 + dy, 8 + dx].item() == pytest.approx(math.exp(-2), rel=1e-6)
    for dy, dx in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        assert hm[4 + dy, 8 + dx].item() == pytest.approx(math.exp(-4), rel=1e-6)
    assert int((hm > 0).sum()) == 9


def test_heatmap_small_box_is_a_single_cell_and_centre_is_clamped() -> None:
    # w = h = 1/16 -> 1 cell: centernet radius = (-1.4*2 + sqrt(4*0.49*4 + 16*0.21))/2 ... < 1 -> 0.
    # cx = 0.999 -> 15.98 -> rounds to 16, clamped to the last column 15; cy = 0.5 -> row 8.
    heat = gaussian_center_heatmap(torch.tensor([[0.999, 0.5, 1 / 16, 1 / 16]]), feat_size=16)[0, 0]
    assert torch.nonzero(heat).tolist() == [[8, 15]]
    assert heat[8, 15].item() == 1.0


def test_heatmap_rounds_halves_to_even() -> None:
    # 8.5/16 -> 8.5 -> 8 (even); 9.5/16 -> 9.5 -> 10 (even).
    boxes = torch.tensor([[8.5 / 16, 9.5 / 16, 0.01, 0.01]])
    heat = gaussian_center_heatmap(boxes, feat_size=16)[0, 0]
    assert torch.nonzero(heat == 1.0).tolist() == [[10, 8]]


def test_heatmap_rejects_bad_boxes() -> None:
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        gaussian_center_heatmap(torch.zeros(3))
    with pytest.raises(ValueError, match=">= 0"):
        gaussian_center_heatmap(torch.tensor([[0.5, 0.5, -0.1, 0.2]]))


# ----------------------------------------------------------------------------- box losses


def test_giou_loss_by_hand() -> None:
    # 1) pred [0,0,2,2], gt [1,1,3,3]: inter 1, union 4+4-1 = 7, hull 3x3 = 9
    #    GIoU = 1/7 - (9-7)/9 = -5/63, loss 1 + 5/63 = 68/63
    # 2) identical boxes: GIoU 1, loss 0
    # 3) pred [0,0,1,1], gt [2,0,3,1]: inter 0, union 2, hull 3x1 = 3, GIoU = 0 - 1/3, loss 4/3
    # mean = (68/63 + 0 + 84/63) / 3 = 152/189
    pred = torch.tensor([[0.0, 0, 2, 2], [0.2, 0.2, 0.6, 0.9], [0.0, 0, 1, 1]], dtype=torch.float64)
    gt = torch.tensor([[1.0, 1, 3, 3], [0.2, 0.2, 0.6, 0.9], [2.0, 0, 3, 1]], dtype=torch.float64)
    loss, iou = giou_loss(pred, gt)
    assert loss.item() == pytest.approx(152 / 189, rel=1e-12)
    assert iou.tolist() == pytest.approx([1 / 7, 1.0, 0.0], rel=1e-12)


def test_giou_loss_rejects_inverted_boxes() -> None:
    good = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="pred_xyxy row 0"):
        giou_loss(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), good)
    with pytest.raises(ValueError, match="non-finite"):
        giou_loss(good, torch.tensor([[0.0, float("nan"), 1.0, 1.0]]))


def test_l1_loss_by_hand() -> None:
    # |0.1-0.2| + |0.5-0.5| + |0.9-0.6| + |0.3-0.0| = 0.1 + 0 + 0.3 + 0.3 = 0.7 over 4 elements
    pred = torch.tensor([[0.1, 0.5, 0.9, 0.3]], dtype=torch.float64)
    gt = torch.tensor([[0.2, 0.5, 0.6, 0.0]], dtype=torch.float64)
    assert l1_loss(pred, gt).item() == pytest.approx(0.7 / 4, rel=1e-12)


# ----------------------------------------------------------------------------- NT-Xent


def _nt_xent_by_loop(a: list[list[float]], b: list[list[float]], temperature: float) -> float:
    """SimCLR's definition written out with plain Python loops."""
    views = a + b
    n = len(a)

    def cosine(u: list[float], v: list[float]) -> float:
        dot = sum(x * y for x, y in zip(u, v))
        return dot / (math.sqrt(sum(x * x for x in u)) * math.sqrt(sum(y * y for y in v)))

    total = 0.0
    for i in range(2 * n):
        partner = i + n if i < n else i - n
        denominator = sum(math.exp(cosine(views[i], views[k]) / temperature) for k in range(2 * n) if k != i)
        numerator = math.exp(cosine(views[i], views[partner]) / temperature)
        total += -math.log(numerator / denominator)
    return total / (2 * n)


def test_nt_xent_matches_loop_definition() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    expected = _nt_xent_by_loop(a.tolist(), b.tolist(), 0.5)
    assert nt_xent(a, b, 0.5).item() == pytest.approx(expected, rel=1e-10)
    expected_t = _nt_xent_by_loop(a.tolist(), b.tolist(), 0.1)
    assert nt_xent(a, b, 0.1).item() == pytest.approx(expected_t, rel=1e-10)


def test_nt_xent_perfect_orthogonal_pairs_by_hand() -> None:
    # a = b = [e1, e2]: each view has cos 1 with its partner and 0 with the other two,
    # so every term is -log(e^2 / (e^2 + 2)) = log(1 + 2 e^-2) at temperature 0.5.
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert nt_xent(a, a.clone(), 0.5).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-12)


def test_nt_xent_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal shapes"):
        nt_xent(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.ones(2, 3), torch.ones(2, 3), temperature=0.0)


# ----------------------------------------------------------------------------- combined


def test_tracking_loss_perfect_boxes_leave_focal_and_alignment() -> None:
    # The predicted box equals the target: GIoU loss 0 and L1 0, so total = focal + CMA + IMA.
    # Score map: 0.5 everywhere; the target box gives a single-cell map (w = h = 1/16 cells
    # -> radius 0) at (8, 8), so focal = -(0.25 log 0.5 + 255 * 0.25 log 0.5) / 1 = -64 log 0.5.
    # Alignment: vision_x = vision_z = language = [e1, e2] -> each NT-Xent = log(1 + 2 e^-2),
    # CMA = 0.25 L + 0.25 L, IMA = 0.5 L.
    box = torch.tensor([[0.5, 0.5, 1 / 16, 1 / 16], [0.5, 0.5, 1 / 16, 1 / 16]], dtype=torch.float64)
    score = torch.full((2, 1, 16, 16), 0.5, dtype=torch.float64)
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    total, parts = TrackingLoss()(box, score, box, e, e.clone(), e.clone())
    nt = math.log(1 + 2 * math.exp(-2))
    focal = -64 * math.log(0.5)  # two maps, two positives: (2 * 256 * 0.25 * -log 0.5) / 2
    assert parts["giou"].item() == pytest.approx(0.0, abs=1e-12)
    assert parts["l1"].item() == pytest.approx(0.0, abs=1e-12)
    assert parts["focal"].item() == pytest.approx(focal, rel=1e-12)
    assert parts["cma"].item() == pytest.approx(0.5 * nt, rel=1e-12)
    assert parts["ima"].item() == pytest.approx(0.5 * nt, rel=1e-12)
    assert total.item() == pytest.approx(focal + nt, rel=1e-12)
    assert parts["iou"].item() == pytest.approx(1.0, rel=1e-12)


def test_tracking_loss_weights_and_gradients() -> None:
    # pred box shifted by 0.1 in x from the target (w = h = 0.2 -> xyxy differ by 0.1 in x1, x2):
    # L1 = (0.1 + 0 + 0.1 + 0) / 4 = 0.05; IoU = (0.1*0.2)/(0.04+0.04-0.02) = 1/3,
    # hull 0.3 x 0.2 = 0.06 = union -> GIoU = 1/3 -> loss 2/3.
    # With weights giou=3, l1=7, focal=0 and no alignment inputs: total = 3*2/3 + 7*0.05 = 2.35.
    gt = torch.tensor([[0.5, 0.5, 0.2, 0.2]], dtype=torch.float64)
    pred = torch.tensor([[0.6, 0.5, 0.2, 0.2]], dtype=torch.float64, requires_grad=True)
    score = torch.full((1, 1, 16, 16), 0.3, dtype=torch.float64, requires_grad=True)
    loss_fn = TrackingLoss(LossWeights(giou=3.0, l1=7.0, focal=0.0))
    total, parts = loss_fn(pred, score, gt)
    assert total.item() == pytest.approx(2.35, rel=1e-12)
    assert set(parts) == {"giou", "l1", "focal", "iou", "total"}
    total.backward()
    assert pred.grad is not None and pred.grad[0, 0].item() > 0  # moving right increases the loss


def test_tracking_loss_promotes_bfloat16_inputs() -> None:
    # Under bf16 autocast the score map can hold exactly 1.0; the loss must stay finite and
    # equal the float32 loss of the same (bf16-representable) values. Boxes: pred == gt ->
    # GIoU 0 and L1 0, so total == focal of the clamped map.
    box = torch.tensor([[0.5, 0.5, 0.25, 0.25]])
    score = torch.full((1, 1, 16, 16), 0.25, dtype=torch.bfloat16)
    score[0, 0, 8, 8] = 1.0
    total, parts = TrackingLoss()(box.to(torch.bfloat16), score, box)
    reference = focal_loss(score.float().clamp(1e-4, 1 - 1e-4), gaussian_center_heatmap(box))
    assert total.dtype == torch.float32 and torch.isfinite(total)
    assert parts["giou"].item() == pytest.approx(0.0, abs=1e-6)
    assert total.item() == pytest.approx(reference.item(), rel=1e-6)


def test_tracking_loss_negative_pairs_only_push_their_scores_down() -> None:
    # Pair 0 is perfect (box losses 0), pair 1 is a negative whose predicted box is far off: it must
    # not add box loss. Score maps 0.5 everywhere; pair 0's target is a single cell (radius 0), so
    # focal = -(0.25 log 0.5 + 255 * 0.25 log 0.5   [pair 0]  + 256 * 0.25 log 0.5 [pair 1]) / 1
    #       = -128 log 0.5 (one positive cell in the batch). Alignment needs two present pairs: none.
    box = torch.tensor([[0.5, 0.5, 1 / 16, 1 / 16], [0.2, 0.2, 0.1, 0.1]], dtype=torch.float64)
    pred = torch.tensor([[0.5, 0.5, 1 / 16, 1 / 16], [0.9, 0.9, 0.05, 0.3]], dtype=torch.float64)
    score = torch.full((2, 1, 16, 16), 0.5, dtype=torch.float64)
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    present = torch.tensor([True, False])
    total, parts = TrackingLoss()(pred, score, box, e, e.clone(), e.clone(), present)
    assert parts["giou"].item() == pytest.approx(0.0, abs=1e-12)
    assert parts["l1"].item() == pytest.approx(0.0, abs=1e-12)
    assert parts["focal"].item() == pytest.approx(-128 * math.log(0.5), rel=1e-12)
    assert "cma" not in parts and "ima" not in parts
    assert total.item() == pytest.approx(-128 * math.log(0.5), rel=1e-12)
    # all present: the same as giving no mask
    ones = torch.ones(2, dtype=torch.bool)
    with_mask = TrackingLoss()(pred, score, box, e, e.clone(), e.clone(), ones)[0]
    assert with_mask.item() == pytest.approx(TrackingLoss()(pred, score, box, e, e.clone(), e.clone())[0].item())
    # only negatives: focal of an all-empty heat map (normalised by max(num_pos, 1) = 1), finite
    total, parts = TrackingLoss()(pred, score, box, present=torch.zeros(2, dtype=torch.bool))
    assert total.item() == pytest.approx(-2 * 256 * 0.25 * math.log(0.5), rel=1e-12)
    with pytest.raises(ValueError, match="present must have shape"):
        TrackingLoss()(pred, score, box, present=torch.ones(3, dtype=torch.bool))


def test_tracking_loss_needs_all_alignment_inputs() -> None:
    box = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    score = torch.full((1, 1, 16, 16), 0.5)
    with pytest.raises(ValueError, match=r"missing \['vision_z', 'language'\]"):
        TrackingLoss()(box, score, box, vision_x=torch.ones(1, 4))
    with pytest.raises(ValueError, match="giou"):
        LossWeights(giou=-1.0)


# ----------------------------------------------------------------------------- keep rate


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (0, 1.0),
        (19, 1.0),
        (20, 1.0),  # cos(0) = 1 -> 0.7 + 0.3 * 1
        (40, 0.7 + 0.3 * (1 + math.sqrt(0.5)) / 2),  # progress 1/4, cos(pi/4) = sqrt(1/2) -> 0.95607
        (60, 0.85),  # progress 1/2, cos(pi/2) = 0
        (80, 0.7 + 0.3 * (1 - math.sqrt(0.5)) / 2),  # progress 3/4 -> 0.74393
        (100, 0.7),
        (299, 0.7),
    ],
)
def test_keep_rate_schedule(epoch: int, expected: float) -> None:
    assert keep_rate_schedule(epoch) == pytest.approx(expected, abs=1e-12)


def test_keep_rate_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="epoch"):
        keep_rate_schedule(-1)
    with pytest.raises(ValueError, match="warmup_start"):
        keep_rate_schedule(5, warmup_start=50, warmup_end=50)
    with pytest.raises(ValueError, match="base_keep"):
        keep_rate_schedule(5, base_keep=0.0)
