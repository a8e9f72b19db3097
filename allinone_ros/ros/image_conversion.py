"""``sensor_msgs/Image`` / ``CompressedImage`` <-> RGB arrays for the node (rclpy messages).

The decoders are ROS-free and live in the core (:mod:`allinone_ros.data.image_msg`, also used to
read bags); this module re-exports them and adds :func:`rgb_to_image_msg`, which builds an rclpy
``sensor_msgs.msg.Image``.
"""
from __future__ import annotations

import array
from typing import Any

from ..data.image_msg import (
    BYTES_PER_PIXEL, SUPPORTED_ENCODINGS, CompressedImageMsgLike, ImageConversionError, ImageMsgLike, RGBImage,
    compressed_msg_to_rgb, image_msg_to_rgb, rgb_to_image_fields,
)

__all__ = [
    "BYTES_PER_PIXEL", "SUPPORTED_ENCODINGS", "CompressedImageMsgLike", "ImageConversionError", "ImageMsgLike",
    "RGBImage", "compressed_msg_to_rgb", "image_msg_to_rgb", "rgb_to_image_msg",
]


def rgb_to_image_msg(rgb: RGBImage, encoding: str = "rgb8", header: Any = None) -> Any:
    """Build a ``sensor_msgs.msg.Image`` from an ``H x W x 3`` RGB ``uint8`` array.

    Pixel packing as :func:`~allinone_ros.data.image_msg.rgb_to_image_fields`. ``header`` (a
    ``std_msgs/Header``, e.g. the input image's) becomes the message's header when given.
    """
    from sensor_msgs.msg import Image

    fields = rgb_to_image_fields(rgb, encoding)
    msg = Image(height=fields.height, width=fields.width, encoding=fields.encoding,
                is_bigendian=fields.is_bigendian, step=fields.step)
    if header is not None:
        msg.header = header
    # array('B') is what rclpy keeps uint8[] in: stored as is, no per-byte check
    msg.data = array.array("B", fields.data)
    return msg
