"""The tracker node's parameters mapped onto the core: validated settings and the core's configs.

The table is :mod:`allinone_ros.ros.node_params`, the value checks :mod:`allinone_ros.ros.node_checks`.
Plain Python (no ROS import), unit-tested without a ROS graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends.config import BackendConfig
from ..lifecycle import LifecycleConfig
from ..tracker.config import TrackerConfig
from .node_checks import Environment, check_value
from .node_params import LIFECYCLE_PARAMETERS, NODE_NAME, SPECS
from .param_specs import SettingsError


@dataclass(frozen=True)
class LiveSettings:
    """Parameters applied per frame (replaced as a whole when one changes)."""

    lifecycle: LifecycleConfig = LifecycleConfig()
    max_rate_hz: float = 0.0
    max_sentence_chars: int = 1024
    debug_image: bool = False
    camera_rate_hz: float = 0.0
    input_loss_warn: float = 0.05

    @property
    def min_period_s(self) -> float:
        return 1.0 / self.max_rate_hz if self.max_rate_hz > 0 else 0.0


@dataclass(frozen=True)
class NodeSettings:
    """All validated parameter values."""

    checkpoint: str
    grounder: str
    device: str
    backend: str
    precision: str
    engine_cache_dir: str
    trust_checkpoint: bool
    cpu_threads: int
    image_topic: str
    compressed_input: bool
    qos_reliability: str
    frame_history: int
    autostart: bool
    live: LiveSettings
    template_factor: float = 0.0  # 0.0 = the checkpoint's
    search_factor: float = 0.0

    @property
    def input_topic(self) -> str:
        """The topic actually subscribed to."""
        return f"{self.image_topic}/compressed" if self.compressed_input else self.image_topic

    def tracker_config(self) -> TrackerConfig:
        """The core tracker's config; crop factors 0.0 = unset (None): the checkpoint's stored values."""
        return TrackerConfig(template_factor=self.template_factor or None, search_factor=self.search_factor or None,
                             device=self.device)

    def backend_config(self) -> BackendConfig:
        """How the network runs; ``cpu_threads`` also bounds ONNX Runtime's intra-op threads."""
        return BackendConfig(name=self.backend, precision=self.precision, device=self.device,
                             cache_dir=self.engine_cache_dir, ort_intra_threads=self.cpu_threads)


def settings_from_values(values: dict[str, Any], env: Environment | None = None) -> NodeSettings:
    """Validate every parameter value and build :class:`NodeSettings`; raise :class:`SettingsError`."""
    reasons = [f"missing parameter {name!r}" for name in SPECS if name not in values]
    reasons += [f"unknown parameter {name!r}" for name in values if name not in SPECS]
    for name, value in values.items():
        if name in SPECS:
            reason = check_value(name, value, env, deep=True)
            if reason:
                reasons.append(reason)
    if reasons:
        raise SettingsError(reasons)
    cache_dir = values["engine_cache_dir"].strip()
    settings = NodeSettings(
        checkpoint=str(Path(values["checkpoint"]).expanduser()) if values["checkpoint"] else "",
        grounder=values["grounder"].strip(),
        device=values["device"],
        backend=values["backend"],
        precision=values["precision"],
        engine_cache_dir=str(Path(cache_dir).expanduser()) if cache_dir else "",
        trust_checkpoint=values["trust_checkpoint"],
        cpu_threads=values["cpu_threads"],
        image_topic=values["image_topic"].strip(),
        compressed_input=values["compressed_input"],
        qos_reliability=values["qos_reliability"],
        frame_history=values["frame_history"],
        autostart=values["autostart"],
        live=live_from_values(values),
        template_factor=float(values["template_factor"]), search_factor=float(values["search_factor"]),
    )
    try:
        settings.backend_config()
    except ValueError as exc:  # the backend config's own checks, reported in its words
        raise SettingsError([f"backend settings: {exc}"]) from exc
    return settings


def live_from_values(values: dict[str, Any]) -> LiveSettings:
    return LiveSettings(
        lifecycle=lifecycle_from_values(values),
        max_rate_hz=float(values["max_rate_hz"]),
        max_sentence_chars=int(values["max_sentence_chars"]),
        debug_image=bool(values["debug_image"]),
        camera_rate_hz=float(values["camera_rate_hz"]), input_loss_warn=float(values["input_loss_warn"]),
    )


def lifecycle_from_values(values: dict[str, Any]) -> LifecycleConfig:
    """The lifecycle settings among the node's parameters (the rest keep LifecycleConfig's defaults)."""
    given = {spec.name: (float(values[spec.name]) if isinstance(spec.default, float) else values[spec.name])
             for spec in LIFECYCLE_PARAMETERS}
    try:
        return LifecycleConfig(**given)
    except ValueError as exc:
        raise SettingsError([f"lifecycle settings: {exc}"]) from exc


def yaml_parameters(path: str | Path, node_name: str = NODE_NAME) -> dict[str, Any]:
    """The ``<node_name>: ros__parameters:`` mapping of a ROS parameter file."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    try:
        params = data[node_name]["ros__parameters"]
    except (KeyError, TypeError) as exc:
        raise SettingsError([f"{path}: no '{node_name}: ros__parameters:' section"]) from exc
    if not isinstance(params, dict):
        raise SettingsError([f"{path}: '{node_name}.ros__parameters' is not a mapping"])
    return params
