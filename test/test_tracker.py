"""Tracker loop: boxes equal an independent transcription of the released per-frame step."""
import math

import cv2
import numpy as np
import pytest
import torch

from allinone_ros.model import build_model, tiny_config
from allinone_ros.tracker import InputError, Tracker, TrackerConfig
from builders import moving_target_frames

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def _reference_step(model, image, prev_box, template, lang):
    """The released per-frame step written straight from the spec, independent of the tracker code."""
    x, y, w, h = prev_box
    side = math.ceil(math.sqrt(w * h) * 4.0)
    x1, y1 = round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5)
    H, W = image.shape[:2]
    pads = (max(0, -y1), max(y1 + side - H + 1, 0), max(0, -x1), max(x1 + side - W + 1, 0))
    crop = image[y1 + pads[0] : y1 + side - pads[1], x1 + pads[2] : x1 + side - pads[3]]
    crop = cv2.resize(cv2.copyMakeBorder(crop, *pads, cv2.BORDER_CONSTANT), (256, 256))
    search = torch.from_numpy(((crop / 255.0 - MEAN) / STD).astype(np.float32)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        out = model(template, search, lang)
    n = 16
    hann = torch.tensor([0.5 * (1 - math.cos(2 * math.pi * k / (n + 1))) for k in range(1, n + 1)])
    resp = out.score_map[0, 0] * (hann[:, None] * hann[None, :])
    idx = int(torch.argmax(resp))
    iy, ix = divmod(idx, n)
    cx = (ix + float(out.offset_map[0, 0, iy, ix])) / n * 256
    cy = (iy + float(out.offset_map[0, 1, iy, ix])) / n * 256
    bw, bh = float(out.size_map[0, 0, iy, ix]) * 256, float(out.size_map[0, 1, iy, ix]) * 256
    f = 256 / side
    cx, cy, bw, bh = cx / f, cy / f, bw / f, bh / f
    cx += x + 0.5 * w - 0.5 * side
    cy += y + 0.5 * h - 0.5 * side
    bx1, by1, bx2, by2 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2
    bx1, bx2 = min(max(0, bx1), W - 10), min(max(10, bx2), W)
    by1, by2 = min(max(0, by1), H - 10), min(max(10, by2), H)
    return np.array([bx1, by1, max(10, bx2 - bx1), max(10, by2 - by1)])


def test_boxes_equal_the_released_step_over_a_sequence():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = build_model(cfg, attn_impl="plain")
    ours = Tracker(build_model(cfg), TrackerConfig())  # sdpa path, same weights
    ours.model.load_state_dict(model.state_dict())
    frames, gt = moving_target_frames(8, box=(250.0, 190.0, 40.0, 30.0), velocity=(5.0, 3.0))
    ours.initialize(frames[0], gt[0], "the red box")
    template, lang = ours.state.template, ours.state.lang
    prev = gt[0]
    for frame in frames[1:]:
        expected = _reference_step(model, frame, prev, template, lang)
        got = ours.track(frame)
        np.testing.assert_allclose(got.box_xywh, expected, rtol=0, atol=1e-3)
        assert 0.0 <= got.confidence <= 1.0
        prev = expected


def test_state_is_explicit_and_advances():
    tracker = Tracker(build_model(tiny_config()))
    frames, gt = moving_target_frames(3)
    first = tracker.initialize(frames[0], gt[0], "the red box")
    np.testing.assert_array_equal(first.box_xywh, gt[0])
    assert tracker.state.frame_index == 0 and tracker.state.text == "the red box"
    r = tracker.track(frames[1])
    assert tracker.state.frame_index == 1 and r.frame_index == 1
    np.testing.assert_array_equal(tracker.state.box_xywh, r.box_xywh)
    assert set(r.timings_ms) == {"crop", "model", "post"}
    assert r.crop is not None and r.crop.out_size == 256


def test_frame_size_change_is_handled():
    tracker = Tracker(build_model(tiny_config()))
    frames, gt = moving_target_frames(2, size=(240, 320))
    tracker.initialize(frames[0], gt[0])
    small = np.ascontiguousarray(frames[1][:120, :160])
    r = tracker.track(small)
    x, y, w, h = r.box_xywh
    assert 0 <= x <= 160 - 10 and 0 <= y <= 120 - 10 and x + w <= 160 and y + h <= 120


@pytest.mark.parametrize(
    "box, match",
    [
        ((float("nan"), 10, 20, 20), "non-finite"),
        ((10, 10, 0, 20), "must be >= 1 px"),
        ((10, 10, -5, 20), "must be >= 1 px"),
        ((10, 10, 0.01, 0.01), r"must be >= 1 px, got w=0\.01, h=0\.01"),  # a sub-pixel box names no object
        ((10, 10, 20, 0.5), "must be >= 1 px"),
        ((500, 10, 20, 20), "outside"),
        ((1, 2, 3), "4 values"),
        ("abc", "4 numbers"),
    ],
)
def test_bad_init_boxes_are_rejected(box, match):
    tracker = Tracker(build_model(tiny_config()))
    frames, _ = moving_target_frames(1)
    with pytest.raises(InputError, match=match):
        tracker.initialize(frames[0], box)


def test_bad_images_are_rejected():
    tracker = Tracker(build_model(tiny_config()))
    frames, gt = moving_target_frames(1)
    tracker.initialize(frames[0], gt[0])
    with pytest.raises(InputError, match="uint8"):
        tracker.track(frames[0].astype(np.float32))
    with pytest.raises(InputError, match="empty"):
        tracker.track(np.zeros((0, 0, 3), np.uint8))
    assert tracker.track(frames[0]).frame_index == 1  # still serving after bad input


def test_track_before_initialize_fails():
    with pytest.raises(RuntimeError, match="before initialize"):
        Tracker(build_model(tiny_config())).track(np.zeros((10, 10, 3), np.uint8))
