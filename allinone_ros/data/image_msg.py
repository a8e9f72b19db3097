"""Conversion between ``sensor_msgs/Image`` / ``sensor_msgs/CompressedImage`` and RGB arrays.

No ROS import: the functions read the message fields by name (duck typing), so
they work on rclpy message objects, on messages read from a bag by ``rosbags``
and on any object with the same attributes. :func:`rgb_to_image_fields` gives
the fields of an Image (``allinone_ros.ros.image_conversion.rgb_to_image_msg``
builds the rclpy message from them).

Every decoder returns a new, C-contiguous ``H x W x 3`` ``uint8`` array in RGB
order that does not share memory with the message.

Raw encodings (names as in ROS ``sensor_msgs/image_encodings``):

=============== ============ ================================================
encoding         bytes/pixel  decoding
=============== ============ ================================================
``rgb8``         3            as is
``bgr8``         3            channels reversed
``rgba8``        4            alpha dropped
``bgra8``        4            channels reversed, alpha dropped
``mono8``        1            grey copied to R, G and B
``mono16``       2            ``round(value / 257)``: 0..65535 maps linearly
                              onto 0..255, the same mapping every frame (no
                              per-frame stretch, which would make the target's
                              appearance flicker). ``is_bigendian`` gives the
                              byte order. Data that uses fewer bits (12-bit
                              pixels stored right-aligned) comes out dark.
``yuv422``       2            UYVY (``U0 Y0 V0 Y1``), BT.601 video range
                              (Y 16..235), as OpenCV's ``COLOR_YUV2RGB_UYVY``;
                              width must be even
``yuv422_yuy2``  2            YUYV (``Y0 U0 Y1 V0``), otherwise as ``yuv422``
=============== ============ ================================================

``step`` (bytes per row) may exceed ``width * bytes/pixel``: the padding at the
end of each row is skipped. Compressed images (JPEG, PNG, anything
``cv2.imdecode`` reads) are decoded to 8-bit colour.

Bad input raises :class:`ImageConversionError` (a ``ValueError``) naming the
offending values.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

RGBImage = NDArray[np.uint8]

BYTES_PER_PIXEL: dict[str, int] = {
    "rgb8": 3,
    "bgr8": 3,
    "rgba8": 4,
    "bgra8": 4,
    "mono8": 1,
    "mono16": 2,
    "yuv422": 2,
    "yuv422_yuy2": 2,
}
"""Supported raw encodings and their size in bytes per pixel."""

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(BYTES_PER_PIXEL)


class ImageConversionError(ValueError):
    """An image message or array cannot be converted; the message names the values."""


@dataclass(frozen=True)
class ImageFields:
    """The fields of a raw ``sensor_msgs/Image`` (without header) as plain Python values."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


class ImageMsgLike(Protocol):
    """The fields of ``sensor_msgs/Image`` that the decoder reads."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any  # bytes-like (rclpy: array.array('B')) or a sequence of 0..255 ints


class CompressedImageMsgLike(Protocol):
    """The fields of ``sensor_msgs/CompressedImage`` that the decoder reads."""

    format: str
    data: Any


def image_msg_to_rgb(msg: ImageMsgLike) -> RGBImage:
    """Decode a raw ``sensor_msgs/Image`` into an ``H x W x 3`` RGB ``uint8`` array."""
    encoding = str(msg.encoding)
    bpp = _bytes_per_pixel(encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image: height={height}, width={width} (encoding {encoding!r})")
    row_bytes = width * bpp
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than width {width} * {bpp} bytes per pixel = {row_bytes} "
            f"for encoding {encoding!r}"
        )
    data = _data_as_uint8(msg.data)
    if data.size != height * step:
        raise ImageConversionError(
            f"image data has {data.size} bytes, expected height {height} * step {step} = {height * step} "
            f"(encoding {encoding!r}, width {width})"
        )
    if encoding in _YUV422_LAYOUTS:
        _check_even_width(width, encoding)
    rows = data.reshape(height, step)[:, :row_bytes]
    return _DECODERS[encoding](rows, height, width, bool(msg.is_bigendian))


def compressed_msg_to_rgb(msg: CompressedImageMsgLike) -> RGBImage:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG, ...) into an RGB ``uint8`` array."""
    fmt = str(msg.format)
    if "compresseddepth" in fmt.lower():
        raise ImageConversionError(f"CompressedImage format {fmt!r} (a depth image) is not supported")
    data = _data_as_uint8(msg.data)
    if data.size == 0:
        raise ImageConversionError(f"CompressedImage (format {fmt!r}) has no data")
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        bgr = None
        detail = f": {exc}"
    else:
        detail = ""
    if bgr is None or bgr.size == 0:
        raise ImageConversionError(
            f"could not decode CompressedImage: format {fmt!r}, {data.size} bytes "
            f"starting {data[:8].tobytes().hex()}{detail}"
        )
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def rgb_to_image_fields(rgb: RGBImage, encoding: str = "rgb8") -> ImageFields:
    """The ``sensor_msgs/Image`` fields that carry ``rgb`` (``H x W x 3`` RGB ``uint8``) in ``encoding``.

    ``encoding`` is any of :data:`SUPPORTED_ENCODINGS`: ``mono8``/``mono16`` store
    the luma (OpenCV's ``COLOR_RGB2GRAY``; ``mono16`` as ``grey * 257``, whose
    two bytes are equal, so byte order does not matter), ``rgba8``/``bgra8`` add
    an opaque alpha, the YUV encodings are BT.601 video range with the chroma of
    each pixel pair averaged. ``step`` is always ``width * bytes/pixel`` (no padding).
    """
    bpp = _bytes_per_pixel(encoding)
    pixels = _check_rgb_array(rgb)
    height, width = pixels.shape[:2]
    if encoding in _YUV422_LAYOUTS:
        _check_even_width(width, encoding)
    packed = _ENCODERS[encoding](pixels)
    return ImageFields(height=height, width=width, encoding=encoding, is_bigendian=0, step=width * bpp,
                       data=np.ascontiguousarray(packed).tobytes())


# --------------------------------------------------------------------------- helpers


def _bytes_per_pixel(encoding: str) -> int:
    try:
        return BYTES_PER_PIXEL[encoding]
    except KeyError:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        ) from None


def _check_even_width(width: int, encoding: str) -> None:
    if width % 2:
        raise ImageConversionError(
            f"encoding {encoding!r} packs pixel pairs and needs an even width, got width {width}"
        )


def _data_as_uint8(data: Any) -> NDArray[np.uint8]:
    """The raw bytes of a message's ``data`` field as a flat ``uint8`` array (no copy if possible)."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        pass  # not bytes-like: a list or tuple of ints
    try:
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ImageConversionError(
            f"image data of type {type(data).__name__} is neither bytes-like nor a sequence of 0..255 ints: {exc}"
        ) from exc


def _check_rgb_array(rgb: Any) -> RGBImage:
    if not isinstance(rgb, np.ndarray):
        raise ImageConversionError(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageConversionError(f"expected an H x W x 3 uint8 RGB array, got shape {rgb.shape} dtype {rgb.dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageConversionError(f"empty image: height={rgb.shape[0]}, width={rgb.shape[1]}")
    return rgb


# Raw decoders: `rows` is height x (width * bpp) bytes with the row padding removed.

Decoder = Callable[[NDArray[np.uint8], int, int, bool], RGBImage]


def _decode_rgb8(rows: NDArray[np.uint8], h: int, w: int, _big: bool) -> RGBImage:
    return rows.reshape(h, w, 3).copy()


def _decode_bgr8(rows: NDArray[np.uint8], h: int, w: int, _big: bool) -> RGBImage:
    return cv2.cvtColor(rows.reshape(h, w, 3), cv2.COLOR_BGR2RGB)  # ~50x faster than a [..., ::-1] copy


def _decode_rgba8(rows: NDArray[np.uint8], h: int, w: int, _big: bool) -> RGBImage:
    return np.ascontiguousarray(rows.reshape(h, w, 4)[:, :, :3])


def _decode_bgra8(rows: NDArray[np.uint8], h: int, w: int, _big: bool) -> RGBImage:
    return cv2.cvtColor(rows.reshape(h, w, 4), cv2.COLOR_BGRA2RGB)


def _decode_mono8(rows: NDArray[np.uint8], h: int, w: int, _big: bool) -> RGBImage:
    return np.repeat(rows.reshape(h, w, 1), 3, axis=2)


def _decode_mono16(rows: NDArray[np.uint8], h: int, w: int, big: bool) -> RGBImage:
    values = np.ascontiguousarray(rows).view(">u2" if big else "<u2").reshape(h, w)
    grey = ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(v / 257)
    return np.repeat(grey[:, :, None], 3, axis=2)


_YUV422_LAYOUTS: dict[str, int] = {
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
}


def _decode_yuv422(encoding: str) -> Decoder:
    code = _YUV422_LAYOUTS[encoding]

    def decode(rows: NDArray[np.uint8], h: int, w: int, _big: bool) -> RGBImage:
        packed = np.ascontiguousarray(rows).reshape(h, w, 2)
        return np.ascontiguousarray(cv2.cvtColor(packed, code))

    return decode


_DECODERS: dict[str, Decoder] = {
    "rgb8": _decode_rgb8,
    "bgr8": _decode_bgr8,
    "rgba8": _decode_rgba8,
    "bgra8": _decode_bgra8,
    "mono8": _decode_mono8,
    "mono16": _decode_mono16,
    "yuv422": _decode_yuv422("yuv422"),
    "yuv422_yuy2": _decode_yuv422("yuv422_yuy2"),
}


# Encoders: RGB array -> packed pixel array whose bytes are the message data.

Encoder = Callable[[RGBImage], NDArray[np.uint8]]


def _with_alpha(pixels: RGBImage) -> NDArray[np.uint8]:
    alpha = np.full(pixels.shape[:2] + (1,), 255, dtype=np.uint8)
    return np.concatenate([pixels, alpha], axis=2)


def _grey(pixels: RGBImage) -> NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def _encode_mono16(pixels: RGBImage) -> NDArray[np.uint8]:
    return (_grey(pixels).astype("<u2") * 257).view(np.uint8)


def _encode_yuv422(pixels: RGBImage, uyvy: bool) -> NDArray[np.uint8]:
    """BT.601 video-range YUV 4:2:2, the inverse of OpenCV's YUV2RGB conversion."""
    rgb = pixels.astype(np.float32) / 255.0
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    y = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128.0 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128.0 + 112.0 * r - 93.786 * g - 18.214 * b
    u_pair = (u[:, 0::2] + u[:, 1::2]) / 2.0
    v_pair = (v[:, 0::2] + v[:, 1::2]) / 2.0
    h, w = y.shape
    out = np.empty((h, w // 2, 4), dtype=np.float32)
    if uyvy:  # U0 Y0 V0 Y1
        out[:, :, 0], out[:, :, 1], out[:, :, 2], out[:, :, 3] = u_pair, y[:, 0::2], v_pair, y[:, 1::2]
    else:  # Y0 U0 Y1 V0
        out[:, :, 0], out[:, :, 1], out[:, :, 2], out[:, :, 3] = y[:, 0::2], u_pair, y[:, 1::2], v_pair
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


_ENCODERS: dict[str, Encoder] = {
    "rgb8": lambda p: p,
    "bgr8": lambda p: p[:, :, ::-1],
    "rgba8": _with_alpha,
    "bgra8": lambda p: _with_alpha(p[:, :, ::-1]),
    "mono8": _grey,
    "mono16": _encode_mono16,
    "yuv422": lambda p: _encode_yuv422(p, uyvy=True),
    "yuv422_yuy2": lambda p: _encode_yuv422(p, uyvy=False),
}
