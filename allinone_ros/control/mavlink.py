"""``TrackedTarget`` -> MAVLink ``CAMERA_TRACKING_IMAGE_STATUS`` (message 275) fields, for gimbals.

MAVLink describes the tracked target in the image with a normalised rectangle (0..1; x: 0 left,
1 right; y: 0 top, 1 bottom; NaN when unknown) and a status. The mapping:

=====================  ==============================================================
TrackedTarget state    CAMERA_TRACKING_IMAGE_STATUS
=====================  ==============================================================
TRACKING               tracking_status ACTIVE (1), tracking_mode RECTANGLE (2),
                       target_data IN_STATUS (4), rec_top = (x, y) / (W, H),
                       rec_bottom = (x + w, y + h) / (W, H) clipped to [0, 1],
                       point = box centre / (W, H), radius NaN
LOST                   tracking_status ACTIVE (1) (the track is still on), mode
                       RECTANGLE, target_data NONE (0), rectangle and point NaN
IDLE, WAITING,         tracking_status IDLE (0), mode NONE (0), target_data NONE,
GROUNDING              all coordinates NaN
=====================  ==============================================================

This module only computes the field values (no MAVLink library is needed); send them with
pymavlink's ``camera_tracking_image_status_send`` or MAVROS / MAVSDK's equivalent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..lifecycle.states import TargetState
from .follow import TargetObservation, validate_observation

TRACKING_STATUS_IDLE = 0  # CAMERA_TRACKING_STATUS_FLAGS_IDLE
TRACKING_STATUS_ACTIVE = 1  # CAMERA_TRACKING_STATUS_FLAGS_ACTIVE
TRACKING_MODE_NONE = 0  # CAMERA_TRACKING_MODE_NONE
TRACKING_MODE_RECTANGLE = 2  # CAMERA_TRACKING_MODE_RECTANGLE
TARGET_DATA_NONE = 0  # CAMERA_TRACKING_TARGET_DATA_NONE
TARGET_DATA_IN_STATUS = 4  # CAMERA_TRACKING_TARGET_DATA_IN_STATUS

NAN = float("nan")


@dataclass(frozen=True)
class CameraTrackingImageStatus:
    """Field values of MAVLink ``CAMERA_TRACKING_IMAGE_STATUS`` (same names)."""

    tracking_status: int
    tracking_mode: int
    target_data: int
    point_x: float = NAN
    point_y: float = NAN
    radius: float = NAN
    rec_top_x: float = NAN
    rec_top_y: float = NAN
    rec_bottom_x: float = NAN
    rec_bottom_y: float = NAN


def _unit(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def tracking_image_status(obs: TargetObservation) -> CameraTrackingImageStatus:
    """The MAVLink fields for one observation (see the module table); bad input raises."""
    validate_observation(obs)
    state = TargetState(obs.state)
    if state == TargetState.LOST:
        return CameraTrackingImageStatus(TRACKING_STATUS_ACTIVE, TRACKING_MODE_RECTANGLE, TARGET_DATA_NONE)
    if state != TargetState.TRACKING:
        return CameraTrackingImageStatus(TRACKING_STATUS_IDLE, TRACKING_MODE_NONE, TARGET_DATA_NONE)
    assert obs.box_xywh is not None
    x, y, w, h = obs.box_xywh
    width, height = float(obs.image_width), float(obs.image_height)
    top = (_unit(x / width), _unit(y / height))
    bottom = (_unit((x + w) / width), _unit((y + h) / height))
    centre = ((top[0] + bottom[0]) / 2.0, (top[1] + bottom[1]) / 2.0)
    assert all(math.isfinite(v) for v in (*top, *bottom))
    return CameraTrackingImageStatus(
        TRACKING_STATUS_ACTIVE, TRACKING_MODE_RECTANGLE, TARGET_DATA_IN_STATUS,
        point_x=centre[0], point_y=centre[1], rec_top_x=top[0], rec_top_y=top[1],
        rec_bottom_x=bottom[0], rec_bottom_y=bottom[1],
    )
