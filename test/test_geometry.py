"""Crop, map-back, clipping, Hann window and box decoding, against hand-computed values and an
independent transcription of the spec's crop recipe (explicit copyMakeBorder)."""
import math

import cv2
import numpy as np
import pytest
import torch

from allinone_ros.ops.boxes import clip_box
from allinone_ros.ops.crop import crop_geometry, crop_square, map_box_back
from allinone_ros.tracker.postprocess import decode_box, hann1d, hann2d


def _spec_crop(image, box_xywh, factor, out_size):
    """The spec's recipe, transcribed literally (slice + cv2.copyMakeBorder), as an independent check."""
    x, y, w, h = box_xywh
    side = math.ceil(math.sqrt(w * h) * factor)
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    H, W = image.shape[:2]
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x2 - W + 1, 0), max(y2 - H + 1, 0)
    crop = image[y1 + y1_pad : y2 - y2_pad, x1 + x1_pad : x2 - x2_pad]
    padded = cv2.copyMakeBorder(crop, y1_pad, y2_pad, x1_pad, x2_pad, cv2.BORDER_CONSTANT)
    return cv2.resize(padded, (out_size, out_size)), out_size / side


def test_crop_side_and_corner_by_hand():
    # box 40x10 at (100, 50): sqrt(400)=20 -> side ceil(20*4)=80; centre (120, 55); x1=round(80)=80, y1=round(15)=15
    g = crop_geometry((100, 50, 40, 10), 4.0, 256)
    assert (g.side, g.x1, g.y1) == (80, 80, 15)
    assert g.resize_factor == 256 / 80
    # python round is banker's rounding: centre 10.5 - side 1 * 0.5 = 10.0; 11.5-0.5... check a .5 tie
    g2 = crop_geometry((0, 0, 3, 3), 1.0, 8)  # side 3, centre 1.5 -> round(0.0) = 0
    assert (g2.side, g2.x1) == (3, 0)
    g3 = crop_geometry((0, 0, 5, 1), 1.0, 8)  # side ceil(sqrt5)=3, cx 2.5 -> round(1.0)=1; cy 0.5 -> round(-1.0)=-1
    assert (g3.side, g3.x1, g3.y1) == (3, 1, -1)


@pytest.mark.parametrize(
    "box",
    [(100, 80, 40, 30), (2, 3, 30, 20), (290, 210, 25, 25), (-10, -5, 30, 30), (150, 100, 300, 200), (300, 230, 15, 8)],
    ids=["inside", "top-left", "bottom-right", "partly-outside", "huge", "corner"],
)
def test_crop_equals_spec_recipe(box):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    ours, geom = crop_square(image, box, 4.0, 256)
    ref, factor = _spec_crop(image, box, 4.0, 256)
    assert np.array_equal(ours, ref)
    assert geom.resize_factor == factor


def test_border_padding_is_zero_and_far_edge_dropped():
    image = np.full((10, 10, 3), 200, dtype=np.uint8)
    # box centred at (9, 5), side ceil(2*2)=4 -> x1=round(7)=7, x2=11 > W-1 -> columns 7,8 kept, 9 dropped
    patch, geom = crop_square(image, (8, 4, 2, 2), 2.0, 4)  # out_size == side: no resampling
    assert (geom.x1, geom.y1, geom.side) == (7, 3, 4)
    assert np.all(patch[:, :2] == 200)
    assert np.all(patch[:, 2:] == 0)  # column 9 (last image column) padded as in the release, and column 10


def test_map_back_by_hand():
    # Crop of side 80 around centre (120, 55) resized to 256 (factor 3.2).
    geom = crop_geometry((100, 50, 40, 10), 4.0, 256)
    # crop-pixel box centred at 128,128 (crop centre) with size 64x32 -> image size 20x10 at the same centre
    box = map_box_back(np.array([128.0, 128.0, 64.0, 32.0]), geom)
    np.testing.assert_allclose(box, [110.0, 50.0, 20.0, 10.0])
    # shifted by +32 crop px in x -> +10 image px
    box = map_box_back(np.array([160.0, 128.0, 64.0, 32.0]), geom)
    np.testing.assert_allclose(box, [120.0, 50.0, 20.0, 10.0])


def test_clip_box_margin_10():
    # W=100, H=50. x1=-5 -> 0; x2=95 -> 95; y1=45 -> min(45, 40)=40; y2=60 -> 50; h=max(10,10)=10
    np.testing.assert_allclose(clip_box(np.array([-5.0, 45.0, 100.0, 15.0]), 50, 100), [0, 40, 95, 10])
    # tiny box far right: x1=min(120, 90)=90, x2=min(max(10,125),100)=100 -> w=10
    np.testing.assert_allclose(clip_box(np.array([120.0, 10.0, 5.0, 5.0]), 50, 100), [90, 10, 10, 10])


def test_hann_window_values():
    # n=4: 0.5*(1-cos(2*pi*k/5)), k=1..4 -> 0.3454915, 0.9045085, 0.9045085, 0.3454915
    np.testing.assert_allclose(hann1d(4).numpy(), [0.3454915, 0.9045085, 0.9045085, 0.3454915], atol=1e-6)
    w = hann2d(16)
    assert w.shape == (16, 16)
    assert torch.allclose(w, w.T)
    # the two centre cells (k=8,9 of 16) are the maxima: 0.5*(1-cos(2*pi*8/17))
    peak = 0.5 * (1 - math.cos(2 * math.pi * 8 / 17))
    assert math.isclose(float(w.max()), peak**2, rel_tol=1e-6)
    assert float(w.min()) > 0  # no zero at the edges (k starts at 1)


def test_decode_box_on_hand_built_maps():
    g = 16
    score = torch.zeros(1, 1, g, g)
    score[0, 0, 5, 9] = 0.9  # row (y) 5, column (x) 9
    score[0, 0, 2, 2] = 0.5
    size = torch.zeros(1, 2, g, g)
    size[0, :, 5, 9] = torch.tensor([0.25, 0.125])
    offset = torch.zeros(1, 2, g, g)
    offset[0, :, 5, 9] = torch.tensor([0.5, 0.25])
    box, idx = decode_box(score, size, offset)
    assert int(idx) == 5 * 16 + 9
    # cx = (9 + 0.5)/16 = 0.59375, cy = (5 + 0.25)/16 = 0.328125
    torch.testing.assert_close(box, torch.tensor([[0.59375, 0.328125, 0.25, 0.125]]))
