"""What this package's nodes share: parameter plumbing of a lifecycle node, and the ``main()`` run.

:class:`ParameterLifecycleNode` declares a :class:`~allinone_ros.ros.param_specs.ParamSpec`
table, refuses runtime sets with a logged reason, logs accepted ones and handles the error
transition; the tracker node and the follow controller node subclass it. :func:`run_node` is
every node's entry point: init (a malformed ``--ros-args`` exits 2), build the node (refused
start-up parameters exit 1 with each reason), configure + activate a lifecycle node when its
``autostart`` parameter is true, spin until shutdown. Torch-free.
"""
from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter

from .param_specs import ParamSpec, parameter_descriptor

NodeT = TypeVar("NodeT", bound=Node)


class ParameterDeclarationError(RuntimeError):
    """Start-up parameter values that rclpy refused (wrong type, out of range)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def logged_transition(func: Any) -> Any:
    """rclpy turns an exception in a transition callback into ERROR without a word: log it first."""

    @functools.wraps(func)
    def wrapper(self: LifecycleNode, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return func(self, state)
        except Exception as exc:  # noqa: BLE001 - reported, then the lifecycle error path runs
            self.get_logger().error(
                f"{func.__name__} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            )
            return TransitionCallbackReturn.ERROR

    return wrapper


class ParameterLifecycleNode(LifecycleNode):
    """A lifecycle node whose parameters are a ``ParamSpec`` table.

    Subclasses give the table and say when a live parameter applies (``live_text``, shown by
    ``ros2 param describe``), and implement :meth:`_parameter_refusal` (why one value cannot be set
    now), :meth:`_parameters_changed` (apply accepted values), :meth:`_diagnostic_status` (published
    on ``/diagnostics`` at 1 Hz between :meth:`_start_diagnostics` and :meth:`_stop_diagnostics`)
    and :meth:`_release_all`.
    """

    def __init__(self, node_name: str, specs: tuple[ParamSpec, ...], live_text: str, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._lifecycle = "unconfigured"
        self._specs = {spec.name: spec for spec in specs}
        self._diag_pub: Any = None
        self._diag_timer: Any = None
        reasons = []
        for spec in specs:
            try:
                self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec, live_text))
            except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
                hint = ""
                if isinstance(spec.default, float) and "INTEGER" in str(exc):
                    hint = f" (write a decimal point, e.g. {spec.name}:=1.0)"
                reasons.append(f"parameter {spec.name}: {exc}{hint}")
        if reasons:
            raise ParameterDeclarationError(reasons)
        self.add_on_set_parameters_callback(self._check_parameter_set)
        self.add_post_set_parameters_callback(self._apply_parameter_set)

    # -- hooks --------------------------------------------------------------------------------
    def _parameter_refusal(self, param: Parameter) -> str | None:
        """Why ``param`` cannot be set now, or None."""
        raise NotImplementedError

    def _combined_refusal(self, values: dict[str, Any]) -> str | None:
        """Why the values after a set do not fit together (checked once all pass one by one), or None."""
        return None

    def _parameters_changed(self, params: list[Parameter]) -> None:
        """Apply parameters that were just set."""

    def _diagnostic_status(self) -> DiagnosticStatus | None:
        """The node's status for ``/diagnostics`` now (None: nothing to report)."""
        raise NotImplementedError

    def _release_all(self, lifecycle: str) -> None:
        """Release what the node holds and record the new lifecycle state."""
        raise NotImplementedError

    # -- diagnostics --------------------------------------------------------------------------
    def _start_diagnostics(self) -> None:
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics)

    def _publish_diagnostics(self) -> None:
        status = self._diagnostic_status() if self._diag_pub is not None else None
        if status is None:
            return
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)

    def _stop_diagnostics(self) -> None:
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
        self._diag_pub = self._diag_timer = None

    # -- plumbing -----------------------------------------------------------------------------
    def _parameter_values(self) -> dict[str, Any]:
        return {name: self.get_parameter(name).value for name in self._specs}

    def _check_parameter_set(self, params: list[Parameter]) -> SetParametersResult:
        values = self._parameter_values()
        for param in params:
            if param.name not in self._specs:  # rclpy's own parameters (use_sim_time, ...)
                continue
            reason = self._parameter_refusal(param)
            if reason:
                return self._refuse(param, reason)
            values[param.name] = param.value
        reason = self._combined_refusal(values)
        return self._refuse(params[0], reason) if reason else SetParametersResult(successful=True)

    def _refuse(self, param: Parameter, reason: str) -> SetParametersResult:
        self.get_logger().warning(f"refused to set parameter {param.name}={param.value!r}: {reason}")
        return SetParametersResult(successful=False, reason=reason)

    def _apply_parameter_set(self, params: list[Parameter]) -> None:
        self._parameters_changed(params)
        for param in params:
            if param.name in self._specs:
                self.get_logger().info(f"parameter {param.name} set to {param.value!r}")

    @property
    def autostart(self) -> bool:
        return bool(self.get_parameter("autostart").value)

    def start(self) -> bool:
        """Configure and activate (``autostart``); False, after a FATAL line, when one fails."""
        for name, transition in (("configure", self.trigger_configure), ("activate", self.trigger_activate)):
            if transition() != TransitionCallbackReturn.SUCCESS:
                self.get_logger().fatal(f"autostart: {name} failed (reasons above); exiting")
                return False
        return True

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during a transition from {state.label}; releasing everything")
        self._release_all("unconfigured")
        return TransitionCallbackReturn.SUCCESS


def run_node(make_node: Callable[[], NodeT], logger_name: str, args: list[str] | None = None, *,
             startup_errors: tuple[type[Exception], ...] = (ParameterDeclarationError,),
             on_exit: Callable[[NodeT], None] | None = None) -> int:
    """A node's ``main()``: 0 after a clean shutdown, 1 when it cannot start, 2 on bad ROS arguments.

    ``startup_errors`` raised by ``make_node`` are logged FATAL (each of their ``reasons``, else the
    message); ``on_exit`` runs on the node before it is destroyed.
    """
    logger = rclpy.logging.get_logger(logger_name)
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: BLE001 - rclpy's RCLError, e.g. a malformed `-p name:=value`
        logger.fatal(f"cannot start: {exc}")  # (an empty string needs `name:=''`)
        return 2
    node: NodeT | None = None
    try:
        try:
            node = make_node()
        except startup_errors as exc:
            for reason in getattr(exc, "reasons", None) or [str(exc)]:
                logger.fatal(f"invalid parameter at start-up: {reason}")
            return 1
        if isinstance(node, ParameterLifecycleNode):
            if not node.autostart:
                node.get_logger().info("autostart is false: waiting for a lifecycle manager to configure and activate")
            elif not node.start():
                return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if on_exit is not None:
                on_exit(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
