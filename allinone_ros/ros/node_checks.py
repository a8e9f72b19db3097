"""Checks of the tracker node's parameter values beyond what a descriptor's range expresses.

Numeric ranges are part of the parameter descriptors, so rclpy itself rejects an out-of-range
value (at start-up: the node exits with the reason; at runtime: the set fails with the reason).
What a range cannot express (enumerations, paths, devices, topic names) is checked here, by
:func:`check_value` (runtime sets, and every value at the configure transition through
:func:`allinone_ros.ros.node_config.settings_from_values`). Plain Python (no ROS import at
module level), unit-tested with an injected :class:`Environment`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..ops.devices import cuda_index, validate_device
from .node_params import SPECS
from .param_specs import apply_time_error, table_value_error, topic_name_error


@dataclass(frozen=True)
class Environment:
    """What the value checks need to know about this machine (injected in tests)."""

    cuda_device_count: Callable[[], int]
    default_model: Callable[[], Path]  # raises when no default model is installed
    topic_name_error: Callable[[str], str | None]  # reason why a topic name is invalid, or None
    default_grounder: Callable[[], Path] | None = None  # raises when no default grounder is installed

    @staticmethod
    def current() -> Environment:
        import torch

        from ..grounding.builtin import default_grounder_path
        from ..tracker.factory import default_model_path

        return Environment(
            cuda_device_count=lambda: torch.cuda.device_count() if torch.cuda.is_available() else 0,
            default_model=default_model_path,
            topic_name_error=topic_name_error,
            default_grounder=default_grounder_path,
        )


def check_value(name: str, value: Any, env: Environment | None = None, deep: bool = False) -> str | None:
    """Reason why ``value`` is not acceptable for parameter ``name``, or None if it is.

    ``deep`` also checks the machine (the checkpoint file exists, the CUDA device is present);
    runtime sets use it too, so a wrong value is refused when it is set, not later.
    """
    reason = table_value_error(SPECS, name, value)
    if reason:
        return reason
    if name == "device":
        return _device_error(value, env if deep else None)
    if name == "image_topic":
        if not value.strip():
            return "image_topic must not be empty"
        if env is not None:
            err = env.topic_name_error(value)
            if err:
                return f"image_topic {value!r} is not a valid topic name: {err}"
    if name == "checkpoint" and deep and env is not None:
        return _checkpoint_error(value, env)
    if name == "grounder" and deep and env is not None:
        return _grounder_error(value, env)
    if name == "engine_cache_dir" and value.strip():
        path = Path(value.strip()).expanduser()
        if path.exists() and not path.is_dir():
            return f"engine_cache_dir {value!r} exists and is not a directory"
    return None


def _device_error(device: str, env: Environment | None) -> str | None:
    try:
        validate_device(device)
    except ValueError as exc:
        return str(exc)
    index = cuda_index(device)
    if env is None or index is None:
        return None
    count = env.cuda_device_count()
    if count == 0:
        return f"device {device!r} requested but CUDA is not available here; use device 'cpu'"
    if index >= count:
        return f"device {device!r} requested but only {count} CUDA device(s) exist (cuda:0..cuda:{count - 1})"
    return None


def _checkpoint_error(checkpoint: str, env: Environment) -> str | None:
    if not checkpoint:
        try:
            env.default_model()
        except Exception as exc:  # noqa: BLE001 - the factory names what is missing
            return f"checkpoint is empty (= default model) but {exc}"
        return None
    path = Path(checkpoint).expanduser()
    if not path.exists():
        return f"checkpoint {checkpoint!r} does not exist"
    if not path.is_file():
        return f"checkpoint {checkpoint!r} is not a file"
    return None


def _grounder_error(grounder: str, env: Environment) -> str | None:
    if grounder.strip().lower() == "none":
        return None
    if not grounder:
        if env.default_grounder is None:
            return None
        try:
            env.default_grounder()
        except Exception as exc:  # noqa: BLE001 - the reason is reported as the parameter's error
            return f"grounder is empty (= the built-in grounder) but {exc}; set grounder to 'none' to run without"
        return None
    path = Path(grounder).expanduser()
    if path.is_dir():
        return None
    if not path.exists():
        return f"grounder {grounder!r} does not exist"
    if path.suffix != ".safetensors":
        return f"grounder {grounder!r} is neither a .safetensors grounder checkpoint nor a model directory"
    return None


def check_runtime_set(name: str, value: Any, lifecycle_state: str, env: Environment | None = None) -> str | None:
    """Reason to refuse setting ``name`` to ``value`` while the node is in ``lifecycle_state``."""
    spec = SPECS.get(name)
    reason = apply_time_error(spec, lifecycle_state) if spec is not None else None
    return reason or check_value(name, value, env, deep=True)
