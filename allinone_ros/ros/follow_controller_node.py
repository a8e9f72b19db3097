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

import functools
import sys
import time
import traceback
from typing import Any

import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter

from allinone_ros.msg import TrackedTarget

from ..control import ControlInputError, FollowController, TargetObservation, TargetState, VelocityCommand
from .follow_params import (
    CONTROL_NAMES, FOLLOW_NODE_NAME, FOLLOW_PARAMETERS, FOLLOW_SPECS, FollowNodeSettings, SettingsError,
    check_follow_value, control_config, follow_settings, parameter_descriptor, topic_name_error,
)

THROTTLE_S = 2.0


class ParameterDeclarationError(RuntimeError):
    """Start-up parameter values that rclpy refused (wrong type, out of range)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _logged_transition(func: Any) -> Any:
    """rclpy turns an exception in a transition callback into ERROR without a word: log it first."""

    @functools.wraps(func)
    def wrapper(self: FollowControllerNode, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return func(self, state)
        except Exception as exc:  # noqa: BLE001 - reported, then the lifecycle error path runs
            self.get_logger().error(f"{func.__name__} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            return TransitionCallbackReturn.ERROR

    return wrapper


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


class FollowControllerNode(LifecycleNode):
    """Velocity setpoints that keep the tracked target in view (see the module docstring)."""

    def __init__(self, node_name: str = FOLLOW_NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._lifecycle = "unconfigured"
        reasons = []
        for spec in FOLLOW_PARAMETERS:
            try:
                self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
            except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
                reasons.append(f"parameter {spec.name}: {exc}")
        if reasons:
            raise ParameterDeclarationError(reasons)
        self.add_on_set_parameters_callback(self._check_parameter_set)
        self.add_post_set_parameters_callback(self._apply_parameter_set)
        self._warned_at: dict[str, float] = {}
        self._settings: FollowNodeSettings | None = None
        self._controller: FollowController | None = None
        self._frame_id = str(self.get_parameter("frame_id").value)
        self._latest: TargetObservation | None = None
        self._last_command = VelocityCommand()
        self._last_publish_ns = 0
        self._counts = {"targets": 0, "refused": 0, "commands": 0}
        self._pub: Any = None
        self._diag_pub: Any = None
        self._diag_timer: Any = None
        self._timer: Any = None
        self._sub: Any = None

    # -- parameters ---------------------------------------------------------------------------
    def _values(self) -> dict[str, Any]:
        return {name: self.get_parameter(name).value for name in FOLLOW_SPECS}

    def _check_parameter_set(self, params: list[Parameter]) -> SetParametersResult:
        values = self._values()
        for param in params:
            if param.name not in FOLLOW_SPECS:
                continue
            spec = FOLLOW_SPECS[param.name]
            reason = check_follow_value(param.name, param.value, topic_name_error)
            if spec.apply == "startup":
                reason = f"{param.name} is read-only: it is read once at start-up"
            elif spec.apply == "configure" and self._lifecycle != "unconfigured":
                reason = (f"{param.name} takes effect at the configure transition; the node is {self._lifecycle}: "
                          "deactivate and clean it up first")
            if reason:
                return self._refuse(param, reason)
            values[param.name] = param.value
        try:
            control_config(values)  # cross-field checks, e.g. search_yaw_rate <= max_yaw_rate
        except SettingsError as exc:
            return self._refuse(params[0], str(exc))
        return SetParametersResult(successful=True)

    def _refuse(self, param: Parameter, reason: str) -> SetParametersResult:
        self.get_logger().warning(f"refused to set parameter {param.name}={param.value!r}: {reason}")
        return SetParametersResult(successful=False, reason=reason)

    def _apply_parameter_set(self, params: list[Parameter]) -> None:
        values = self._values()
        self._frame_id = str(values["frame_id"]).strip()
        if self._controller is not None and any(p.name in CONTROL_NAMES for p in params):
            self._controller.config = control_config(values)
        for param in params:
            if param.name in FOLLOW_SPECS:
                self.get_logger().info(f"parameter {param.name} set to {param.value!r}")

    @property
    def autostart(self) -> bool:
        return bool(self.get_parameter("autostart").value)

    # -- lifecycle ----------------------------------------------------------------------------
    @_logged_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            settings = follow_settings(self._values(), topic_name_error)
        except SettingsError as exc:
            for reason in exc.reasons:
                self.get_logger().error(f"configure failed: {reason}")
            return TransitionCallbackReturn.FAILURE
        self._settings, self._frame_id = settings, settings.frame_id
        self._controller = FollowController(settings.control)
        self._pub = self.create_lifecycle_publisher(TwistStamped, settings.command_topic, 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        self._lifecycle = "inactive"
        self.get_logger().info(
            f"configured: {self.resolve_topic_name(settings.target_topic)} -> "
            f"{self.resolve_topic_name(settings.command_topic)} (TwistStamped, frame {settings.frame_id}), "
            f"camera {settings.control.camera}, max_age {settings.control.max_age:g} s")
        return super().on_configure(state)

    @_logged_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = self._settings
        assert settings is not None
        self._sub = self.create_subscription(TrackedTarget, settings.target_topic, self._on_target, 10)
        self._timer = self.create_timer(1.0 / settings.publish_rate_hz, self._on_timer)
        self._lifecycle = "active"
        result = super().on_activate(state)
        self.get_logger().info("active: following")
        return result

    @_logged_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._publish(VelocityCommand(mode="idle"))  # leave the vehicle holding, not moving
        self._stop()
        self._lifecycle = "inactive"
        return super().on_deactivate(state)

    @_logged_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release("unconfigured")
        return super().on_cleanup(state)

    @_logged_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release("finalized")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during a transition from {state.label}; releasing everything")
        self._release("unconfigured")
        return TransitionCallbackReturn.SUCCESS

    def _stop(self) -> None:
        if self._sub is not None:
            self.destroy_subscription(self._sub)
        if self._timer is not None:
            self.destroy_timer(self._timer)
        self._sub = self._timer = self._latest = None
        if self._controller is not None:
            self._controller.reset()

    def _release(self, lifecycle: str) -> None:
        self._stop()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        if self._pub is not None:
            self.destroy_lifecycle_publisher(self._pub)
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
        self._pub = self._diag_pub = self._diag_timer = self._controller = self._settings = None
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
    def _publish_diagnostics(self) -> None:
        if self._diag_pub is None:
            return
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
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: follow controller", message=message,
                                  hardware_id="follow_controller",
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    """Entry point: start the node, configure + activate it when ``autostart``, spin until shutdown."""
    logger = rclpy.logging.get_logger(FOLLOW_NODE_NAME)
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: BLE001 - rclpy raises its RCLError for malformed --ros-args
        logger.fatal(f"cannot start: {exc}")
        return 2
    node: FollowControllerNode | None = None
    try:
        try:
            node = FollowControllerNode()
        except ParameterDeclarationError as exc:
            for reason in exc.reasons:
                logger.fatal(f"invalid parameter at start-up: {reason}")
            return 1
        if node.autostart:
            for name, transition in (("configure", node.trigger_configure), ("activate", node.trigger_activate)):
                if transition() != TransitionCallbackReturn.SUCCESS:
                    node.get_logger().fatal(f"autostart: {name} failed (reasons above); exiting")
                    return 1
        else:
            node.get_logger().info("autostart is false: waiting for a lifecycle manager to configure and activate")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
