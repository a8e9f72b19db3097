"""``follow_controller``: turn the tracker's ``TrackedTarget`` into body-frame velocity setpoints.

Run it with ``ros2 run allinone_ros follow_controller``, the ``follow_controller`` console
script, ``python -m allinone_ros.ros.follow_controller_node``, or with the tracker through
``ros2 launch allinone_ros tracker.launch.py follow:=true``. The control law is the ROS-free
:class:`allinone_ros.control.FollowController`; its parameters are listed in
:mod:`allinone_ros.ros.follow_params` (``ros2 param describe`` shows the same text).

Lifecycle (like ``tracker_node``; ``autostart`` = configure + activate at start): configure
validates all parameters and creates the command publisher and the 1 Hz diagnostics; activate
subscribes and starts the command timer; deactivate publishes one zero command, unsubscribes and
resets the controller; cleanup releases the publishers.

Topics:

* in ``target_topic`` (default ``/tracker_node/target``), ``allinone_ros/TrackedTarget``.
* out ``command_topic`` (default ``~/cmd_vel``), ``geometry_msgs/TwistStamped``: ``header.stamp``
  = node clock at computation, ``header.frame_id`` = ``frame_id`` (body frame, REP-103: x
  forward, y left, z up); ``twist.linear`` = (vx, vy, vz) m/s, ``twist.angular.z`` = yaw rate
  rad/s (``angular.x/y`` always 0). Published for every target message and at
  ``publish_rate_hz`` in between, so a missing or stale target (older than ``max_age``) yields a
  stream of zeros rather than silence.
* out ``/diagnostics``: mode (track, hold, search, idle, stale), target age, last command, counts.

A target message with non-finite numbers, an unknown state or TRACKING without a box is refused
with a throttled warning naming the values; the controller then has no valid target (zero
command) until the next good message.
"""
from __future__ import annotations

import sys
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter

from allinone_ros.msg import TrackedTarget

from ..control import ControlInputError, FollowController, TargetObservation, VelocityCommand
from ..lifecycle.states import TargetState
from .follow_params import (
    CONTROL_NAMES, FOLLOW_NODE_NAME, FOLLOW_PARAMETERS, FOLLOW_SPECS, FollowNodeSettings, check_follow_value,
    control_config, follow_settings,
)
from .node_base import ParameterLifecycleNode, logged_transition, run_node
from .param_specs import SettingsError, apply_time_error, topic_name_error

THROTTLE_S = 2.0


def observation_from_msg(msg: TrackedTarget) -> TargetObservation:
    """The controller's view of one ``TrackedTarget`` (box only in TRACKING, as the message defines)."""
    box = (float(msg.x), float(msg.y), float(msg.width), float(msg.height)) if msg.state == TrackedTarget.STATE_TRACKING \
        else None
    stamp = int(msg.header.stamp.sec) + int(msg.header.stamp.nanosec) * 1e-9
    return TargetObservation(int(msg.state), box, int(msg.image_width), int(msg.image_height), stamp)


def twist_message(cmd: VelocityCommand, stamp: Any, frame_id: str) -> TwistStamped:
    msg = TwistStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = cmd.vx, cmd.vy, cmd.vz
    msg.twist.angular.z = cmd.yaw_rate
    return msg


class FollowControllerNode(ParameterLifecycleNode):
    """Velocity setpoints that keep the tracked target in view (see the module docstring)."""

    def __init__(self, node_name: str = FOLLOW_NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, FOLLOW_PARAMETERS, "applied to the next command", **kwargs)
        self._warned_at: dict[str, float] = {}
        self._settings: FollowNodeSettings | None = None
        self._controller: FollowController | None = None
        self._frame_id = str(self.get_parameter("frame_id").value)
        self._latest: TargetObservation | None = None
        self._last_command = VelocityCommand()
        self._last_publish_ns = 0
        self._counts = {"targets": 0, "refused": 0, "commands": 0}
        self._pub: Any = None
        self._timer: Any = None
        self._sub: Any = None

    # -- parameters ---------------------------------------------------------------------------
    def _parameter_refusal(self, param: Parameter) -> str | None:
        return apply_time_error(FOLLOW_SPECS[param.name], self._lifecycle) or \
            check_follow_value(param.name, param.value, topic_name_error)

    def _combined_refusal(self, values: dict[str, Any]) -> str | None:
        try:
            control_config(values)  # cross-field checks, e.g. search_yaw_rate <= max_yaw_rate
        except SettingsError as exc:
            return str(exc)
        return None

    def _parameters_changed(self, params: list[Parameter]) -> None:
        values = self._parameter_values()
        self._frame_id = str(values["frame_id"]).strip()
        if self._controller is not None and any(p.name in CONTROL_NAMES for p in params):
            self._controller.config = control_config(values)

    # -- lifecycle ----------------------------------------------------------------------------
    @logged_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            settings = follow_settings(self._parameter_values(), topic_name_error)
        except SettingsError as exc:
            for reason in exc.reasons:
                self.get_logger().error(f"configure failed: {reason}")
            return TransitionCallbackReturn.FAILURE
        self._settings, self._frame_id = settings, settings.frame_id
        self._controller = FollowController(settings.control)
        self._pub = self.create_lifecycle_publisher(TwistStamped, settings.command_topic, 10)
        self._start_diagnostics()
        self._lifecycle = "inactive"
        self.get_logger().info(
            f"configured: {self.resolve_topic_name(settings.target_topic)} -> "
            f"{self.resolve_topic_name(settings.command_topic)} (TwistStamped, frame {settings.frame_id}), "
            f"camera {settings.control.camera}, max_age {settings.control.max_age:g} s")
        return super().on_configure(state)

    @logged_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = self._settings
        assert settings is not None
        self._sub = self.create_subscription(TrackedTarget, settings.target_topic, self._on_target, 10)
        self._timer = self.create_timer(1.0 / settings.publish_rate_hz, self._on_timer)
        self._lifecycle = "active"
        result = super().on_activate(state)
        self.get_logger().info("active: following")
        return result

    @logged_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._publish(VelocityCommand(mode="idle"))  # leave the vehicle holding, not moving
        self._stop()
        self._lifecycle = "inactive"
        return super().on_deactivate(state)

    @logged_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all("unconfigured")
        return super().on_cleanup(state)

    @logged_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all("finalized")
        return super().on_shutdown(state)

    def _stop(self) -> None:
        if self._sub is not None:
            self.destroy_subscription(self._sub)
        if self._timer is not None:
            self.destroy_timer(self._timer)
        self._sub = self._timer = self._latest = None
        if self._controller is not None:
            self._controller.reset()

    def _release_all(self, lifecycle: str) -> None:
        self._stop()
        self._stop_diagnostics()
        if self._pub is not None:
            self.destroy_lifecycle_publisher(self._pub)
        self._pub = self._controller = self._settings = None
        self._lifecycle = lifecycle

    # -- control ------------------------------------------------------------------------------
    def _on_target(self, msg: TrackedTarget) -> None:
        self._counts["targets"] += 1
        obs = observation_from_msg(msg)
        try:
            self._command(obs)
        except ControlInputError as exc:
            self._counts["refused"] += 1
            self._warn(f"{self._settings.target_topic if self._settings else 'target'} message ignored: {exc}")
            self._latest = None
            self._command(None)

    def _warn(self, message: str) -> None:
        """A warning, at most once per THROTTLE_S for each distinct message."""
        now = time.monotonic()
        if now - self._warned_at.get(message, -THROTTLE_S) >= THROTTLE_S:
            self._warned_at[message] = now
            self.get_logger().warning(message)
            if len(self._warned_at) > 64:
                self._warned_at.pop(next(iter(self._warned_at)))

    def _on_timer(self) -> None:
        settings = self._settings
        if settings is None:
            return
        if self.get_clock().now().nanoseconds - self._last_publish_ns >= 0.9e9 / settings.publish_rate_hz:
            self._command(self._latest)

    def _command(self, obs: TargetObservation | None) -> None:
        if self._controller is None:
            return
        now = self.get_clock().now()
        cmd = self._controller.update(obs, now.nanoseconds * 1e-9)
        self._latest = obs
        self._last_publish_ns = now.nanoseconds
        self._publish(cmd, now.to_msg())

    def _publish(self, cmd: VelocityCommand, stamp: Any = None) -> None:
        if self._pub is None:
            return
        stamp = stamp if stamp is not None else self.get_clock().now().to_msg()
        self._pub.publish(twist_message(cmd, stamp, self._frame_id))
        self._last_command = cmd
        self._counts["commands"] += 1

    # -- diagnostics --------------------------------------------------------------------------
    def _diagnostic_status(self) -> DiagnosticStatus:
        cmd, latest = self._last_command, self._latest
        age = (self.get_clock().now().nanoseconds * 1e-9 - latest.stamp) if latest is not None else float("inf")
        if self._lifecycle != "active":
            level, message = DiagnosticStatus.WARN, f"node is {self._lifecycle}: not commanding"
        elif cmd.mode in ("stale", "hold", "search"):
            level, message = DiagnosticStatus.WARN, {"stale": "no fresh target: holding", "hold": "target lost: holding",
                                                     "search": "target lost: yaw search"}[cmd.mode]
        else:
            level, message = DiagnosticStatus.OK, cmd.mode
        values = {
            "lifecycle_state": self._lifecycle, "mode": cmd.mode,
            "state": TargetState(latest.state).name if latest is not None else "none",
            "target_age_s": f"{age:.3f}", "vx": f"{cmd.vx:.3f}", "vy": f"{cmd.vy:.3f}", "vz": f"{cmd.vz:.3f}",
            "yaw_rate": f"{cmd.yaw_rate:.3f}", **{k: str(v) for k, v in self._counts.items()},
        }
        return DiagnosticStatus(level=level, name=f"{self.get_name()}: follow controller", message=message,
                                hardware_id="follow_controller",
                                values=[KeyValue(key=k, value=v) for k, v in values.items()])


def main(args: list[str] | None = None) -> int:
    """Entry point: start the node, configure + activate it when ``autostart``, spin until shutdown."""
    return run_node(FollowControllerNode, FOLLOW_NODE_NAME, args)


if __name__ == "__main__":
    sys.exit(main())
