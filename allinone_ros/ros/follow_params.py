"""Parameters of the ``follow_controller`` node: one table, validation, mapping to FollowConfig.

Same conventions as the tracker node's (:mod:`allinone_ros.ros.node_params`), on the same spec
type and checks (:mod:`allinone_ros.ros.param_specs`): every parameter has a description, a
numeric range or a list of choices in its descriptor, and an apply time: ``startup``
(read-only), ``configure`` (topics, rates: set only while unconfigured) or ``live`` (gains and
limits: applied to the next command). Plain Python. Kept apart from the tracker node's table so
that this node does not import torch.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable

from ..control import CAMERA_MOUNTS, FollowConfig
from .param_specs import ParamSpec, SettingsError, table_value_error

FOLLOW_NODE_NAME = "follow_controller"

_CONTROL_DOCS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "kp_x": ("Proportional gain on offset_x: m/s (camera down: vy) or rad/s (forward: yaw rate) per unit offset.",
             (0.0, 1000.0)),
    "kp_y": ("Proportional gain on offset_y: m/s per unit offset (down: vx; forward: vz).", (0.0, 1000.0)),
    "ki_x": ("Integral gain on offset_x, per unit offset-second (removes the lag behind a moving target).",
             (0.0, 1000.0)),
    "ki_y": ("Integral gain on offset_y, per unit offset-second.", (0.0, 1000.0)),
    "integral_limit": ("Cap of |integral of offset| (unit offset * s), anti-windup.", (0.0, 100.0)),
    "kp_size": ("Gain on desired_box_size - box size, m/s per unit size (down: vz; forward: vx).", (0.0, 1000.0)),
    "desired_box_size": ("Box size to keep, sqrt(box area / image area); 0 = no distance keeping.", (0.0, 1.0)),
    "dead_band": ("Offsets (and the size error) within +-dead_band count as zero.", (0.0, 0.99)),
    "max_speed_xy": ("Limit of the horizontal speed |(vx, vy)|, m/s.", (0.001, 100.0)),
    "max_speed_z": ("Limit of |vz|, m/s.", (0.001, 50.0)),
    "max_yaw_rate": ("Limit of |yaw rate|, rad/s.", (0.001, 10.0)),
    "max_accel_xy": ("Limit of the change of (vx, vy) per second, m/s^2.", (0.001, 100.0)),
    "max_accel_z": ("Limit of the change of vz per second, m/s^2.", (0.001, 100.0)),
    "max_yaw_accel": ("Limit of the change of the yaw rate per second, rad/s^2.", (0.001, 100.0)),
    "max_age": ("A target message older than this (node clock - its image stamp), s, gives a zero command.",
                (0.001, 60.0)),
    "max_future": ("A target stamp more than this ahead of the node clock, s, is refused (zero command).",
                   (0.0, 60.0)),
    "search_after": ("Seconds of LOST before a slow yaw search starts; negative = never search.", (-1.0, 600.0)),
    "search_yaw_rate": ("|Yaw rate| of the search, rad/s, turning towards the side the target was last seen.",
                        (0.0, 10.0)),
}


def _control_specs() -> tuple[ParamSpec, ...]:
    defaults = FollowConfig()
    specs = [ParamSpec("camera", defaults.camera,
                       "Camera mounting: down (nadir, image top = vehicle front: offsets drive vy/vx, size drives vz) "
                       "or forward (offset_x drives the yaw rate, offset_y vz, size vx).", "live",
                       choices=CAMERA_MOUNTS)]
    for f in fields(FollowConfig):
        if f.name == "camera":
            continue
        description, value_range = _CONTROL_DOCS[f.name]
        specs.append(ParamSpec(f.name, float(getattr(defaults, f.name)), description, "live", range=value_range))
    return tuple(specs)


FOLLOW_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("target_topic", "/tracker_node/target", "allinone_ros/TrackedTarget input topic.", "configure",
              constraints="a valid, non-empty ROS topic name"),
    ParamSpec("command_topic", "~/cmd_vel", "geometry_msgs/TwistStamped output topic (body-frame velocity setpoint).",
              "configure", constraints="a valid, non-empty ROS topic name"),
    ParamSpec("frame_id", "base_link", "header.frame_id of the published commands (the body frame, REP-103).",
              "live", constraints="non-empty"),
    ParamSpec("publish_rate_hz", 20.0,
              "Commands are published on every target message and, between messages, at this rate (a stream "
              "that keeps an offboard autopilot fed; stale or missing targets give zero).", "configure",
              range=(1.0, 1000.0)),
    *_control_specs(),
    ParamSpec("autostart", True, "Configure and activate at start. false = stay unconfigured for a lifecycle "
                                 "manager.", "startup"),
)

FOLLOW_SPECS: dict[str, ParamSpec] = {p.name: p for p in FOLLOW_PARAMETERS}
CONTROL_NAMES = tuple(f.name for f in fields(FollowConfig))


@dataclass(frozen=True)
class FollowNodeSettings:
    target_topic: str
    command_topic: str
    frame_id: str
    publish_rate_hz: float
    control: FollowConfig


def check_follow_value(name: str, value: Any, topic_error: Callable[[str], str | None] | None = None) -> str | None:
    """Reason why ``value`` is not acceptable for parameter ``name``, or None."""
    reason = table_value_error(FOLLOW_SPECS, name, value)
    if reason:
        return reason
    if name in ("target_topic", "command_topic", "frame_id") and not value.strip():
        return f"{name} must not be empty"
    if name in ("target_topic", "command_topic") and topic_error is not None:
        err = topic_error(value)
        if err:
            return f"{name} {value!r} is not a valid topic name: {err}"
    return None


def control_config(values: dict[str, Any]) -> FollowConfig:
    """FollowConfig from parameter values; cross-field problems raise :class:`SettingsError`."""
    try:
        return FollowConfig(**{n: (values[n] if n == "camera" else float(values[n])) for n in CONTROL_NAMES})
    except ValueError as exc:
        raise SettingsError([str(exc)]) from exc


def follow_settings(values: dict[str, Any], topic_error: Callable[[str], str | None] | None = None
                    ) -> FollowNodeSettings:
    """Validate every value (all problems at once) and build :class:`FollowNodeSettings`."""
    reasons = [f"missing parameter {n!r}" for n in FOLLOW_SPECS if n not in values]
    reasons += [r for n, v in values.items() if (r := check_follow_value(n, v, topic_error))]
    if reasons:
        raise SettingsError(reasons)
    return FollowNodeSettings(values["target_topic"].strip(), values["command_topic"].strip(),
                              values["frame_id"].strip(), float(values["publish_rate_hz"]), control_config(values))
