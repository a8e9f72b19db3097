"""Declared ROS parameters of this package's nodes: the spec type and the checks every node shares.

Plain Python: no torch and, except inside :func:`parameter_descriptor` and
:func:`topic_name_error`, no ROS import, so the follow controller node (which must not load
torch) and the tracker node (:mod:`allinone_ros.ros.node_config`) both build their tables on it,
and the tables are unit-tested without a ROS graph.

Each parameter has an *apply* time: ``startup`` (read once, declared ``read_only``),
``configure`` (read by the configure transition; settable only while unconfigured) or ``live``
(applied to the next frame or command; settable at any time).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ApplyTime = Literal["startup", "configure", "live"]
Value = bool | int | float | str


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: name, default (which fixes the type), documentation, limits."""

    name: str
    default: Value
    description: str
    apply: ApplyTime
    range: tuple[float, float] | None = None  # inclusive, numeric parameters only
    choices: tuple[str, ...] | None = None  # string enumerations
    constraints: str = ""  # human-readable limits, shown by `ros2 param describe`

    @property
    def read_only(self) -> bool:
        return self.apply == "startup"


class SettingsError(ValueError):
    """One or more parameter values are invalid; ``reasons`` lists one line per problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def spec_value_error(spec: ParamSpec, value: Any) -> str | None:
    """Reason why ``value`` breaks ``spec``'s type, range or choices, or None."""
    want = type(spec.default)
    if want is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = type(value) is want
    if not ok:
        return f"{spec.name} must be of type {want.__name__}, got {value!r}"
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(value, float) and not math.isfinite(value):
            return f"{spec.name} must be a finite number in [{lo}, {hi}], got {value}"
        if not lo <= value <= hi:
            return f"{spec.name} must be in [{lo}, {hi}], got {value}"
    if spec.choices is not None and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}"
    return None


def table_value_error(specs: Mapping[str, ParamSpec], name: str, value: Any) -> str | None:
    """Reason why ``value`` is not acceptable for parameter ``name`` of the table ``specs`` (unknown name,
    type, range, choices), or None."""
    spec = specs.get(name)
    if spec is None:
        return f"unknown parameter {name!r}; parameters are {sorted(specs)}"
    return spec_value_error(spec, value)


def apply_time_error(spec: ParamSpec, lifecycle_state: str) -> str | None:
    """Reason to refuse setting ``spec`` at runtime while the node is in ``lifecycle_state``, or None."""
    if spec.apply == "startup":
        return f"{spec.name} is read-only: it is read once at start-up"
    if spec.apply == "configure" and lifecycle_state != "unconfigured":
        return (
            f"{spec.name} takes effect at the configure transition; the node is {lifecycle_state}: "
            "deactivate and clean it up first, then set it and configure again"
        )
    return None


def topic_name_error(name: str) -> str | None:
    """rclpy's reason why ``name`` is not a valid topic name (``~/x`` allowed), or None."""
    from rclpy.exceptions import InvalidTopicNameException
    from rclpy.validate_topic_name import validate_topic_name

    try:
        validate_topic_name(name)
    except InvalidTopicNameException as exc:
        return str(exc)
    return None


def parameter_descriptor(spec: ParamSpec, live: str = "applied to the next frame") -> Any:
    """``rcl_interfaces/ParameterDescriptor`` for ``spec`` (description, range, choices, read_only).

    ``live`` says when a live parameter takes effect (the follow controller: the next command).
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    when = {"startup": "read at start-up only", "configure": "applied at configure", "live": live}[spec.apply]
    descriptor = ParameterDescriptor(
        name=spec.name,
        type=types[type(spec.default)],
        description=f"{spec.description} ({when})",
        additional_constraints=f"one of: {', '.join(spec.choices)}" if spec.choices else spec.constraints,
        read_only=spec.read_only,
    )
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
        else:
            descriptor.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
    return descriptor
