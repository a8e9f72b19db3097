"""Closed-loop following: a reference follow controller and the MAVLink gimbal mapping (ROS-free)."""
from .config import CAMERA_MOUNTS, FollowConfig, follow_config_from_dict
from .follow import (
    ControlInputError, FollowController, TargetObservation, VelocityCommand, dead_band,
    validate_observation,
)
from .mavlink import CameraTrackingImageStatus, tracking_image_status

__all__ = [
    "CAMERA_MOUNTS", "CameraTrackingImageStatus", "ControlInputError", "FollowConfig", "FollowController",
    "TargetObservation", "VelocityCommand", "dead_band", "follow_config_from_dict",
    "tracking_image_status", "validate_observation",
]
