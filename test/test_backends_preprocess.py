"""Device-side crop/normalise/decode vs the OpenCV + host path (run on CPU tensors here)."""
import cv2
import numpy as np
import pytest
import torch

from allinone_ros.backends import BackendConfig
from allinone_ros.backends.backend_tracker import DeviceTracker, make_tracker
from allinone_ros.backends.device_crop import DeviceCropper
from allinone_ros.backends.device_decode import decode_on_device
from allinone_ros.model import HeadOutput, build_model, tiny_config
from allinone_ros.ops.boxes import clip_box
from allinone_ros.ops.crop import crop_geometry, extract_crop, map_box_back
from allinone_ros.ops.normalize import image_to_tensor
from allinone_ros.tracker import Tracker, TrackerConfig
from allinone_ros.tracker.postprocess import decode_box, hann2d
from builders import moving_target_frames

# (box, factor, out size): inside, past each border, up- and down-scaling, exact 2x, larger than the image.
GEOMETRIES = [
    ((100, 80, 40, 30), 4.0, 256), ((100, 80, 40, 30), 2.0, 128), ((5, 5, 60, 50), 4.0, 256),
    ((280, 200, 40, 30), 4.0, 256), ((100, 80, 64, 64), 2.0, 64), ((0, 0, 300, 230), 4.0, 256),
    ((150, 100, 10, 10), 4.0, 256), ((300, 0, 20, 20), 2.0, 128),
]


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (5, 5), 0)


@pytest.mark.parametrize("box, factor, size", GEOMETRIES)
def test_device_crop_matches_opencv_within_one_level(image, box, factor, size):
    pre = DeviceCropper("cpu")
    geom = crop_geometry(box, factor, size)
    ref = extract_crop(image, geom).astype(np.float64)  # OpenCV path (uint8)
    got = pre.crop_uint8_scale(pre.upload(image), geom)[0].permute(1, 2, 0).numpy()
    diff = np.abs(got - ref)
    # OpenCV's uint8 resize uses 11-bit fixed-point weights: at most one grey level apart, rarely.
    assert diff.max() <= 1.0
    assert diff.mean() < 0.2
    # Padding is where the CPU path pads: the zero border (incl. the release's +1 far-side column).
    assert np.array_equal(got == 0, ref == 0) or diff[(got == 0) != (ref == 0)].max() <= 1.0


def test_device_normalised_crop_matches_the_host_normalisation(image):
    pre = DeviceCropper("cpu")
    geom = crop_geometry((100, 80, 40, 30), 4.0, 256)
    ref = image_to_tensor(extract_crop(image, geom))[None]  # (1, 3, S, S)
    got = pre.crop(pre.upload(image), geom)
    assert got.shape == ref.shape == (1, 3, 256, 256)
    # One grey level is 1/255/std ~ 0.0175 after normalisation.
    assert float((got - ref).abs().max()) <= 1.0 / 255 / 0.224 + 1e-5


@pytest.mark.parametrize("box, image_hw", [((100, 80, 40, 30), (240, 320)), ((2, 3, 50, 40), (240, 320)),
                                           ((290, 210, 40, 30), (240, 320)), ((10, 10, 300, 200), (240, 320))])
def test_device_decode_equals_host_decode_map_back_and_clip(box, image_hw):
    g = torch.Generator().manual_seed(sum(map(int, box)))
    out = HeadOutput(torch.rand(1, 1, 16, 16, generator=g), torch.rand(1, 2, 16, 16, generator=g),
                     torch.rand(1, 2, 16, 16, generator=g), torch.zeros(1, 89, dtype=torch.long))
    geom = crop_geometry(box, 4.0, 256)
    window = hann2d(16)
    # Host path, as Tracker.track does it.
    box_norm, _ = decode_box(out.score_map * window, out.size_map, out.offset_map)
    host = clip_box(map_box_back(box_norm[0].double().numpy() * 256, geom), *image_hw, 10)
    got = decode_on_device(out, window, geom, image_hw, 10).numpy()
    np.testing.assert_allclose(got[:4], host, rtol=0, atol=1e-4)
    assert got[4] == pytest.approx(float(out.score_map.max()))


def test_device_tracker_equals_the_default_tracker_when_crops_need_no_resize():
    """64x64 boxes give crop sides of exactly 128 (template) and 256 (search): no interpolation, so
    both paths see identical pixels and every other step (pad, normalise, decode, map back, clip)
    must agree. The target runs past the image corner to exercise padding and clipping."""
    torch.manual_seed(0)
    model = build_model(tiny_config())
    frames, gt = moving_target_frames(7, box=(200.0, 140.0, 64.0, 64.0), velocity=(20.0, 15.0))
    ref, dev = Tracker(model, TrackerConfig()), DeviceTracker(model, TrackerConfig())
    ref.initialize(frames[0], gt[0], "the red box")
    dev.initialize(frames[0], gt[0], "the red box")
    assert torch.equal(dev.state.template, ref.state.template)
    for i, frame in enumerate(frames[1:], start=1):
        # Same previous box for both (the truth), so each step crops the same region.
        ref.state.box_xywh, dev.state.box_xywh = gt[i - 1].copy(), gt[i - 1].copy()
        a, b = ref.track(frame), dev.track(frame)
        assert b.crop == a.crop and a.crop.side == 256
        np.testing.assert_allclose(b.box_xywh, a.box_xywh, rtol=0, atol=1e-3)
        assert b.confidence == pytest.approx(a.confidence, abs=1e-6)
        assert set(b.timings_ms) == {"crop", "model", "post"}


def test_make_tracker_picks_the_device_path_and_checks_devices(tmp_path):
    model = build_model(tiny_config())
    tracker = make_tracker(model, TrackerConfig(), BackendConfig(name="eager", preprocess="device"))
    assert isinstance(tracker, DeviceTracker) and tracker.runner.name == "eager"
    plain = make_tracker(model, TrackerConfig(), BackendConfig(name="eager"))
    assert type(plain) is Tracker
    with pytest.raises(ValueError, match="'cpu'.*'cuda'"):
        make_tracker(model, TrackerConfig(device="cpu"), BackendConfig(name="eager", device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_device_tracker_matches_cpu_tracker():
    torch.manual_seed(0)
    model = build_model(tiny_config())
    frames, gt = moving_target_frames(6, box=(120.0, 90.0, 40.0, 30.0))
    ref = Tracker(build_model(tiny_config()), TrackerConfig())
    ref.model.load_state_dict(model.state_dict())
    dev = make_tracker(model, TrackerConfig(device="cuda"),
                       BackendConfig(name="eager", device="cuda", preprocess="device"))
    ref.initialize(frames[0], gt[0])
    dev.initialize(frames[0], gt[0])
    for frame in frames[1:]:
        np.testing.assert_allclose(dev.track(frame).box_xywh, ref.track(frame).box_xywh, rtol=0, atol=0.5)
