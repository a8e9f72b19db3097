"""allinone_ros.ros.image_conversion on real sensor_msgs messages (no ROS graph).

Tests that build messages need sensor_msgs/std_msgs: they are skipped when ROS is
not installed (the pure-core run) unless ALLINONE_REQUIRE_ROS=1, which turns the
skip into a failure (CI runs them under scripts/ros_env.sh).
"""
from __future__ import annotations

import array
import importlib
import os
from types import ModuleType, SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from allinone_ros.ros.image_conversion import (
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    compressed_msg_to_rgb,
    image_msg_to_rgb,
    rgb_to_image_msg,
)

H, W = 6, 8


def _ros_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if os.environ.get("ALLINONE_REQUIRE_ROS") == "1":
            raise
        pytest.skip(f"{name} not importable ({exc}): run scripts/setup_ros.sh and source scripts/ros_env.sh")


@pytest.fixture
def sensor_msgs() -> ModuleType:
    return _ros_module("sensor_msgs.msg")


def _random_rgb(seed: int = 0, height: int = H, width: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _pairwise_constant_rgb(seed: int = 1) -> np.ndarray:
    """Neighbouring pixels (0,1), (2,3), ... equal: what 4:2:2 chroma can carry exactly."""
    return np.repeat(_random_rgb(seed, H, W // 2), 2, axis=1)


def _grey_rgb(seed: int = 2) -> np.ndarray:
    grey = np.random.default_rng(seed).integers(0, 256, size=(H, W, 1), dtype=np.uint8)
    return np.repeat(grey, 3, axis=2)


def _image(
    sensor_msgs: ModuleType, encoding: str, height: int, width: int, step: int, data: bytes, big: int = 0
) -> Any:
    msg = sensor_msgs.Image(height=height, width=width, encoding=encoding, is_bigendian=big, step=step)
    msg.data = array.array("B", data)
    return msg


def _with_row_padding(msg: Any, extra: int) -> Any:
    """Copy of `msg` whose rows carry `extra` junk bytes at the end (step > width * bpp)."""
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    junk = np.full((msg.height, extra), 0xAB, dtype=np.uint8)
    padded = np.concatenate([rows, junk], axis=1)
    return type(msg)(
        header=msg.header, height=msg.height, width=msg.width, encoding=msg.encoding,
        is_bigendian=msg.is_bigendian, step=msg.step + extra, data=array.array("B", padded.tobytes()),
    )


# ----------------------------------------------------------------- round trips

EXACT = ["rgb8", "bgr8", "rgba8", "bgra8"]
GREY = ["mono8", "mono16"]
YUV = ["yuv422", "yuv422_yuy2"]


def test_every_supported_encoding_is_covered() -> None:
    assert sorted(EXACT + GREY + YUV) == sorted(SUPPORTED_ENCODINGS)


@pytest.mark.parametrize("encoding", EXACT)
def test_colour_round_trip_is_exact(sensor_msgs: ModuleType, encoding: str) -> None:
    rgb = _random_rgb()
    msg = rgb_to_image_msg(rgb, encoding)
    assert isinstance(msg, sensor_msgs.Image)
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian) == (H, W, encoding, 0)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


@pytest.mark.parametrize("encoding", GREY)
def test_grey_round_trip_is_exact(sensor_msgs: ModuleType, encoding: str) -> None:
    rgb = _grey_rgb()
    np.testing.assert_array_equal(image_msg_to_rgb(rgb_to_image_msg(rgb, encoding)), rgb)


@pytest.mark.parametrize("encoding", YUV)
def test_yuv422_round_trip_within_quantisation(sensor_msgs: ModuleType, encoding: str) -> None:
    rgb = _pairwise_constant_rgb()
    out = image_msg_to_rgb(rgb_to_image_msg(rgb, encoding))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 3


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_row_padding_is_skipped(sensor_msgs: ModuleType, encoding: str) -> None:
    rgb = _grey_rgb() if encoding in GREY else _pairwise_constant_rgb()
    msg = rgb_to_image_msg(rgb, encoding)
    padded = _with_row_padding(msg, extra=5)
    assert padded.step == msg.step + 5
    np.testing.assert_array_equal(image_msg_to_rgb(padded), image_msg_to_rgb(msg))


def test_header_is_set(sensor_msgs: ModuleType) -> None:
    std_msgs = _ros_module("std_msgs.msg")
    header = std_msgs.Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = rgb_to_image_msg(_random_rgb(), "bgr8", header)
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == ("camera_optical", 12, 345)


# ------------------------------------------------- byte layouts (not only round trips)


def test_bgr8_and_bgra8_byte_order(sensor_msgs: ModuleType) -> None:
    rgb = np.array([[[10, 20, 30], [40, 50, 60]]], dtype=np.uint8)
    assert list(rgb_to_image_msg(rgb, "bgr8").data) == [30, 20, 10, 60, 50, 40]
    assert list(rgb_to_image_msg(rgb, "bgra8").data) == [30, 20, 10, 255, 60, 50, 40, 255]
    assert list(rgb_to_image_msg(rgb, "rgba8").data) == [10, 20, 30, 255, 40, 50, 60, 255]


def test_alpha_is_dropped(sensor_msgs: ModuleType) -> None:
    msg = _image(sensor_msgs, "bgra8", 1, 1, 4, bytes([1, 2, 3, 0]))
    np.testing.assert_array_equal(image_msg_to_rgb(msg), [[[3, 2, 1]]])


def test_mono16_scaling_to_8_bit(sensor_msgs: ModuleType) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype="<u2")
    msg = _image(sensor_msgs, "mono16", 1, 4, 8, values.tobytes())
    out = image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 2])


def test_mono16_honours_is_bigendian(sensor_msgs: ModuleType) -> None:
    data = bytes([0x00, 0x80])  # little endian: 0x8000 = 32768; big endian: 0x0080 = 128
    little = image_msg_to_rgb(_image(sensor_msgs, "mono16", 1, 1, 2, data, big=0))
    big = image_msg_to_rgb(_image(sensor_msgs, "mono16", 1, 1, 2, data, big=1))
    assert little[0, 0, 0] == 128 and big[0, 0, 0] == 0


def test_mono16_output_is_grey_times_257(sensor_msgs: ModuleType) -> None:
    msg = rgb_to_image_msg(np.array([[[200, 200, 200], [1, 1, 1]]], dtype=np.uint8), "mono16")
    assert (msg.step, msg.is_bigendian) == (4, 0)
    assert list(msg.data) == [0xC8, 0xC8, 0x01, 0x01]  # 200 * 257 = 0xC8C8, 1 * 257 = 0x0101


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("yuv422", lambda y0, y1, u, v: [u, y0, v, y1]),  # UYVY
        ("yuv422_yuy2", lambda y0, y1, u, v: [y0, u, y1, v]),  # YUYV
    ],
)
def test_yuv422_layout_and_video_range(sensor_msgs: ModuleType, encoding: str, pack: Any) -> None:
    # BT.601 video range: Y 235 = white, Y 16 = black; (81, 90, 240) = pure red.
    cases = {(235, 128, 128): (255, 255, 255), (16, 128, 128): (0, 0, 0), (81, 90, 240): (255, 0, 0)}
    for (y, u, v), want in cases.items():
        out = image_msg_to_rgb(_image(sensor_msgs, encoding, 1, 2, 4, bytes(pack(y, y, u, v))))
        assert np.abs(out.astype(int) - np.array(want)).max() <= 2, (encoding, (y, u, v), out.tolist())
        encoded = list(rgb_to_image_msg(np.array([[want, want]], dtype=np.uint8), encoding).data)
        assert np.abs(np.array(encoded) - np.array(pack(y, y, u, v))).max() <= 1, (encoding, want, encoded)
    # pixel order within a pair: first black, then white
    out = image_msg_to_rgb(_image(sensor_msgs, encoding, 1, 2, 4, bytes(pack(16, 235, 128, 128))))
    np.testing.assert_array_equal(out, [[[0, 0, 0], [255, 255, 255]]])


def test_result_is_an_independent_writable_copy(sensor_msgs: ModuleType) -> None:
    rgb = _random_rgb()
    msg = rgb_to_image_msg(rgb, "rgb8")
    out = image_msg_to_rgb(msg)
    out[:] = 0
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)
    assert out.flags.c_contiguous


# ------------------------------------------------------------------ compressed


def _compressed(sensor_msgs: ModuleType, fmt: str, data: bytes) -> Any:
    msg = sensor_msgs.CompressedImage(format=fmt)
    msg.data = array.array("B", data)
    return msg


def test_png_round_trip_is_exact(sensor_msgs: ModuleType) -> None:
    rgb = _random_rgb(5, 10, 12)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    np.testing.assert_array_equal(compressed_msg_to_rgb(_compressed(sensor_msgs, "png", png.tobytes())), rgb)


def test_jpeg_decodes_to_rgb_order(sensor_msgs: ModuleType) -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:, :8] = (255, 0, 0)
    rgb[:, 8:] = (0, 0, 255)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    out = compressed_msg_to_rgb(_compressed(sensor_msgs, "rgb8; jpeg compressed bgr8", jpeg.tobytes()))
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert out[8, 2, 0] > 200 and out[8, 2, 2] < 50  # red stays red
    assert out[8, 13, 2] > 200 and out[8, 13, 0] < 50  # blue stays blue


# ------------------------------------------------------------------ duck typing


def test_plain_object_with_bytes_or_int_list_data() -> None:
    rgb = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.uint8)
    fields = {"height": 1, "width": 2, "encoding": "rgb8", "is_bigendian": 0, "step": 6}
    for data in (rgb.tobytes(), list(rgb.tobytes())):
        np.testing.assert_array_equal(image_msg_to_rgb(SimpleNamespace(data=data, **fields)), rgb)


def test_int_list_out_of_byte_range_is_rejected() -> None:
    msg = SimpleNamespace(height=1, width=1, encoding="mono8", is_bigendian=0, step=1, data=[300])
    with pytest.raises(ImageConversionError, match="neither bytes-like nor a sequence of 0..255 ints"):
        image_msg_to_rgb(msg)


# ---------------------------------------------------------------------- errors


def test_unsupported_encoding(sensor_msgs: ModuleType) -> None:
    msg = _image(sensor_msgs, "bayer_rggb8", 2, 2, 2, bytes(4))
    with pytest.raises(ImageConversionError, match=r"unsupported image encoding 'bayer_rggb8'; supported: rgb8"):
        image_msg_to_rgb(msg)
    with pytest.raises(ImageConversionError, match=r"unsupported image encoding '16UC1'"):
        rgb_to_image_msg(_random_rgb(), "16UC1")


def test_data_length_must_be_height_times_step(sensor_msgs: ModuleType) -> None:
    msg = _image(sensor_msgs, "rgb8", H, W, W * 3, bytes(H * W * 3 - 1))
    with pytest.raises(ImageConversionError, match=r"has 143 bytes, expected height 6 \* step 24 = 144"):
        image_msg_to_rgb(msg)


def test_step_smaller_than_row(sensor_msgs: ModuleType) -> None:
    msg = _image(sensor_msgs, "bgra8", 2, 5, 19, bytes(38))
    with pytest.raises(ImageConversionError, match=r"step 19 is smaller than width 5 \* 4 bytes per pixel = 20"):
        image_msg_to_rgb(msg)


@pytest.mark.parametrize(("height", "width"), [(0, 0), (0, 4), (3, 0)])
def test_empty_image(sensor_msgs: ModuleType, height: int, width: int) -> None:
    msg = _image(sensor_msgs, "rgb8", height, width, width * 3, b"")
    with pytest.raises(ImageConversionError, match=rf"empty image: height={height}, width={width}"):
        image_msg_to_rgb(msg)


def test_yuv422_odd_width(sensor_msgs: ModuleType) -> None:
    msg = _image(sensor_msgs, "yuv422", 1, 3, 6, bytes(6))
    with pytest.raises(ImageConversionError, match="needs an even width, got width 3"):
        image_msg_to_rgb(msg)
    with pytest.raises(ImageConversionError, match="needs an even width, got width 7"):
        rgb_to_image_msg(_random_rgb(0, 2, 7), "yuv422_yuy2")


def test_undecodable_compressed_data(sensor_msgs: ModuleType) -> None:
    msg = _compressed(sensor_msgs, "jpeg", b"not an image")
    with pytest.raises(ImageConversionError, match=r"could not decode CompressedImage: format 'jpeg', 12 bytes"):
        compressed_msg_to_rgb(msg)


def test_empty_compressed_data(sensor_msgs: ModuleType) -> None:
    with pytest.raises(ImageConversionError, match=r"CompressedImage \(format 'png'\) has no data"):
        compressed_msg_to_rgb(_compressed(sensor_msgs, "png", b""))


def test_compressed_depth_is_rejected(sensor_msgs: ModuleType) -> None:
    msg = _compressed(sensor_msgs, "16UC1; compressedDepth png", bytes(20))
    with pytest.raises(ImageConversionError, match="'16UC1; compressedDepth png' .* is not supported"):
        compressed_msg_to_rgb(msg)


@pytest.mark.parametrize(
    ("array_in", "message"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), r"got shape \(4, 4, 3\) dtype float32"),
        (np.zeros((4, 4), dtype=np.uint8), r"got shape \(4, 4\) dtype uint8"),
        (np.zeros((4, 4, 4), dtype=np.uint8), r"got shape \(4, 4, 4\) dtype uint8"),
        (np.zeros((0, 4, 3), dtype=np.uint8), r"empty image: height=0, width=4"),
        ([[1, 2, 3]], r"expected a numpy array, got list"),
    ],
)
def test_rgb_to_image_msg_rejects_bad_arrays(array_in: Any, message: str) -> None:
    # validated before sensor_msgs is imported: runs without ROS too
    with pytest.raises(ImageConversionError, match=message):
        rgb_to_image_msg(array_in, "rgb8")


def test_error_is_a_value_error() -> None:
    assert issubclass(ImageConversionError, ValueError)
