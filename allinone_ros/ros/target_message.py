"""The ``TrackedTarget`` message the tracker node publishes for one processed image."""
from __future__ import annotations

from typing import Any

from allinone_ros.msg import TrackedTarget

from ..lifecycle.states import TargetResult
from ..ops.boxes import centre_offset


def target_message(header: Any, result: TargetResult, latency_ms: float, frames_dropped: int) -> TrackedTarget:
    """The ``TrackedTarget`` for one processed image (``header`` is the image's).

    TRACKING: this image's box. LOST: the last known box (the last TRACKING one) and this image's
    confidence, as the message documents. Other states: zeros.
    """
    height, width = result.image_size
    msg = TrackedTarget(
        header=header, state=int(result.state), sentence=result.sentence, latency_ms=float(latency_ms),
        frames_dropped=int(frames_dropped), image_width=width, image_height=height,
    )
    box = result.reported_box_xywh
    if box is not None:
        msg.x, msg.y, msg.width, msg.height = (float(v) for v in box)
        msg.offset_x, msg.offset_y = centre_offset(box, width, height)
        msg.confidence = float(min(max(result.confidence, 0.0), 1.0))
    return msg


def stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
