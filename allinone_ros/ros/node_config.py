"""Parameters of the tracker node: one table, validation, and the mapping to the core config.

Everything except :func:`parameter_descriptor` is plain Python (no ROS import), so the
table, the checks and the mapping are unit-tested without a ROS graph.

Each parameter has an *apply* time:

``startup``
    read once when the process starts; declared ``read_only`` (cannot be set later).
``configure``
    read by the ``configure`` transition. Setting it at runtime is accepted only while the
    node is unconfigured (before configure, or after cleanup); in any other state the set
    is rejected with a reason, because the value would not take effect.
``live``
    applied to the next processed frame; may be set at any time.

Numeric ranges are part of the parameter descriptors, so rclpy itself rejects an
out-of-range value (at start-up: the node exits with the reason; at runtime: the set
fails with the reason). What a range cannot express (enumerations, paths, devices, topic
names) is checked here, by :func:`check_value` (runtime sets) and :func:`settings_from_values`
(the configure transition).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from ..backends.config import BACKENDS, PRECISIONS, BackendConfig
from ..lifecycle import LifecycleConfig
from ..ops.devices import DEVICES_HELP, cuda_index, validate_device
from ..tracker.config import TrackerConfig
from ..model.inference_settings import PAPER_SETTINGS

ApplyTime = Literal["startup", "configure", "live"]
Value = bool | int | float | str

QOS_RELIABILITY_CHOICES = ("best_effort", "reliable")
NODE_NAME = "tracker_node"


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


_LC = LifecycleConfig()  # the one set of lifecycle defaults (node, CLIs, evaluation)
LIFECYCLE_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("lost_threshold", _LC.lost_threshold,
              "Tracker confidence (score-map peak) below which an image does not show the target.",
              "live", range=(0.0, 1.0)),
    ParamSpec("appearance_threshold", _LC.appearance_threshold,
              "Colour similarity to the first template below which a box is not the target (0 = off).",
              "live", range=(0.0, 1.0)),
    ParamSpec("max_jump", _LC.max_jump,
              "A box centre further than this many target sizes from the predicted centre is not the target "
              "(the search stays where the target should be).",
              "live", range=(0.01, 100.0)),
    ParamSpec("jump_per_speed", _LC.jump_per_speed,
              "The allowed distance from the prediction grows by this many times the target's speed (target "
              "sizes per frame): a fast target may be further from where its motion predicts it.",
              "live", range=(0.0, 100.0)),
    ParamSpec("max_scale_change", _LC.max_scale_change,
              "A box whose size differs from the target's recent size by more than this factor is not the target.",
              "live", range=(1.0, 100.0)),
    ParamSpec("lost_patience", _LC.lost_patience,
              "Consecutive images without the target before the state becomes LOST.",
              "live", range=(1, 10000)),
    ParamSpec("recover_threshold", _LC.recover_threshold,
              "Score a candidate needs to re-acquire a LOST target.", "live", range=(0.0, 1.0)),
    ParamSpec("recover_patience", _LC.recover_patience,
              "Consecutive images with the same accepted candidate needed to leave LOST "
              "(a local candidate the grounder agrees with counts twice).", "live", range=(1, 10000)),
    ParamSpec("recover_needs_grounder", _LC.recover_needs_grounder,
              "With a grounder, a local re-search candidate further than max_jump from the predicted position "
              "re-acquires only where the grounder agrees.", "live"),
    ParamSpec("ground_threshold", _LC.ground_threshold,
              "Grounder score a candidate needs to start tracking from a sentence alone, or to re-find a lost target.",
              "live", range=(0.0, 1.0)),
    ParamSpec("ground_margin", _LC.ground_margin,
              "A grounded candidate must beat every other place the grounder scores by this much (else the "
              "sentence is ambiguous and no candidate is taken).", "live", range=(0.0, 1.0)),
    ParamSpec("ground_confirm", _LC.ground_confirm,
              "Consecutive images the same grounded candidate is needed to start from a sentence alone.",
              "live", range=(1, 10000)),
    ParamSpec("reground_every", _LC.reground_every,
              "While LOST (with a grounder), search the whole image for the sentence on the first LOST image and "
              "every reground_every-th image after it.", "live", range=(1, 10000)),
    ParamSpec("max_search_factor", _LC.max_search_factor,
              "While LOST the local search region grows up to this many target sizes.", "live", range=(0.1, 100.0)),
)


def lifecycle_from_values(values: dict[str, Any]) -> LifecycleConfig:
    """The lifecycle settings among the node's parameters (the rest keep LifecycleConfig's defaults)."""
    given = {spec.name: values[spec.name] for spec in LIFECYCLE_PARAMETERS}
    try:
        return LifecycleConfig(**{k: (float(v) if isinstance(getattr(_LC, k), float) else v) for k, v in given.items()})
    except ValueError as exc:
        raise SettingsError([f"lifecycle settings: {exc}"]) from exc


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "checkpoint", "",
        "Model checkpoint (.safetensors, .pth, .pth.tar). Empty = the package's default model "
        "(models/allinone_uav_small.safetensors).",
        "configure", constraints="an existing file, or empty for the default model",
    ),
    ParamSpec(
        "grounder", "",
        "What finds the target when a sentence comes without a box (and re-finds a lost target): "
        "'' = the package's built-in grounder (models/text_grounder_uav_small.safetensors, trained on the "
        "synthetic UAV data like the default model), 'none' = no grounding (a sentence alone waits for a box), "
        "a .safetensors file = a grounder trained with allinone-train-grounder, a directory = a transformers "
        "Grounding DINO / OWLv2 / OWL-ViT model saved with save_pretrained.",
        "configure", constraints="'', 'none', an existing .safetensors file or model directory",
    ),
    *(ParamSpec(f"{crop}_factor", 0.0,
                f"Side of the {crop} crop in target sizes. 0.0 = the value stored in the checkpoint "
                f"({getattr(PAPER_SETTINGS, crop + '_factor'):.1f}, the paper's, for a checkpoint that stores none); "
                "> 0 overrides it.", "configure", range=(0.0, 100.0)) for crop in ("template", "search")),
    ParamSpec(
        "device", "cpu", f"Inference device: {DEVICES_HELP}.",
        "configure", constraints="cpu, cuda or cuda:N with an available CUDA device N",
    ),
    ParamSpec(
        "backend", "eager",
        "Inference backend: eager (plain PyTorch, the reference), compile (torch.compile), tensorrt "
        "(Torch-TensorRT engine, CUDA only), onnxruntime (ONNX export run by ONNX Runtime), auto (the best one "
        "available: TensorRT, else compile on CUDA; ONNX Runtime if measured faster than eager on the CPU). "
        "Engines and ONNX files are built at configure and cached in engine_cache_dir; a backend that cannot "
        "run here fails configure with the reason.",
        "configure", choices=BACKENDS,
    ),
    ParamSpec(
        "precision", "fp32",
        "Compute precision of the network: fp32, fp16 or bf16 (boxes are float32 either way). Not every "
        "backend has every precision on every device (e.g. onnxruntime has no bf16): configure fails with "
        "the backend's reason.",
        "configure", choices=PRECISIONS,
    ),
    ParamSpec(
        "engine_cache_dir", "",
        "Directory of built engines and ONNX files, keyed by weights, precision, library versions and GPU. "
        "Empty = $ALLINONE_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, then allinone_ros/engines.",
        "configure", constraints="a directory (created if missing), or empty for the default",
    ),
    ParamSpec(
        "trust_checkpoint", False,
        "Unpickle the checkpoint with full trust (runs code a pickle names). Only for files you trust; "
        "read-only so it cannot be switched on remotely.",
        "startup",
    ),
    ParamSpec(
        "cpu_threads", 0, "PyTorch intra-op threads (0 = PyTorch's default).",
        "configure", range=(0, 256),
    ),
    ParamSpec(
        "image_topic", "/camera/image_raw",
        "sensor_msgs/Image input topic. With compressed_input the node subscribes to "
        "<image_topic>/compressed (sensor_msgs/CompressedImage) instead.",
        "configure", constraints="a valid, non-empty ROS topic name",
    ),
    ParamSpec(
        "compressed_input", False, "Subscribe to <image_topic>/compressed (CompressedImage) instead of the raw topic.",
        "configure",
    ),
    ParamSpec(
        "qos_reliability", "best_effort",
        "Reliability of the image subscription (depth 1): best_effort (accepts best-effort and reliable "
        "publishers) or reliable.",
        "configure", choices=QOS_RELIABILITY_CHOICES,
    ),
    ParamSpec("camera_rate_hz", 0.0, "Camera frame rate, to estimate frames lost before the node from gaps in the "
              "image stamps (/diagnostics frames_missing_estimated). 0 = estimate the period from recent stamps: finds "
              "bursts and random loss, not a stream thinned uniformly (e.g. every second frame).",
              "live", range=(0.0, 1000.0)),
    ParamSpec("input_loss_warn", 0.05, "/diagnostics is WARN (and the node logs a warning) while more than this "
              "fraction of the recent camera frames is missing from the stamp sequence (1 = never).",
              "live", range=(0.0, 1.0)),
    ParamSpec(
        "frame_history", 30,
        "Number of recent input images kept so that a track_request whose stamp names one of them "
        "starts on that very image (0 = always start on the next image).",
        "configure", range=(0, 300),
    ),
    *LIFECYCLE_PARAMETERS,
    ParamSpec(
        "max_rate_hz", 0.0,
        "Process at most this many images per second (0 = as fast as the model runs). Images arriving "
        "in between replace the waiting one and are counted as dropped.",
        "live", range=(0.0, 1000.0),
    ),
    ParamSpec(
        "max_sentence_chars", 1024,
        "Longer sentences (track_command, track_request) are rejected with a log line, not truncated. "
        "Accepted sentences longer than the model's token limit (40 tokens) are used up to that limit, "
        "with a warning.",
        "live", range=(1, 65536),
    ),
    ParamSpec(
        "debug_image", False, "Publish an annotated copy of each processed image on ~/debug_image "
        "(only while someone subscribes).",
        "live",
    ),
    ParamSpec(
        "autostart", True,
        "Configure and activate at start. false = stay unconfigured for a lifecycle manager.",
        "startup",
    ),
)

SPECS: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}


class SettingsError(ValueError):
    """One or more parameter values are invalid; ``reasons`` lists one line per problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


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


# --------------------------------------------------------------------------- checks


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
            topic_name_error=_rcl_topic_name_error,
            default_grounder=default_grounder_path,
        )


def _rcl_topic_name_error(name: str) -> str | None:
    from rclpy.exceptions import InvalidTopicNameException
    from rclpy.validate_topic_name import validate_topic_name

    try:
        validate_topic_name(name)
    except InvalidTopicNameException as exc:
        return str(exc)
    return None


def _type_error(spec: ParamSpec, value: Any) -> str | None:
    want = type(spec.default)
    if want is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = type(value) is want
    return None if ok else f"{spec.name} must be of type {want.__name__}, got {value!r}"


def check_value(name: str, value: Any, env: Environment | None = None, deep: bool = False) -> str | None:
    """Reason why ``value`` is not acceptable for parameter ``name``, or None if it is.

    ``deep`` also checks the machine (the checkpoint file exists, the CUDA device is present);
    runtime sets use it too, so a wrong value is refused when it is set, not later.
    """
    spec = SPECS.get(name)
    if spec is None:
        return f"unknown parameter {name!r}; parameters are {sorted(SPECS)}"
    reason = _type_error(spec, value)
    if reason:
        return reason
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name} must be a finite number in [{lo}, {hi}], got {value}"
        if not lo <= value <= hi:
            return f"{name} must be in [{lo}, {hi}], got {value}"
    if spec.choices is not None and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}, got {value!r}"
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
    if spec is None:
        return f"unknown parameter {name!r}"
    if spec.apply == "startup":
        return f"{name} is read-only: it is read once at start-up"
    if spec.apply == "configure" and lifecycle_state != "unconfigured":
        return (
            f"{name} takes effect at the configure transition; the node is {lifecycle_state}: "
            "deactivate and clean it up first, then set it and configure again"
        )
    return check_value(name, value, env, deep=True)


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


def defaults() -> dict[str, Value]:
    return {p.name: p.default for p in PARAMETERS}


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


# --------------------------------------------------------------------------- ROS descriptors


def parameter_descriptor(spec: ParamSpec) -> Any:
    """``rcl_interfaces/ParameterDescriptor`` for ``spec`` (description, range, read_only)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    constraints = spec.constraints
    if spec.choices:
        constraints = f"one of: {', '.join(spec.choices)}"
    when = {"startup": "read at start-up only", "configure": "applied at configure",
            "live": "applied to the next frame"}[spec.apply]
    descriptor = ParameterDescriptor(
        name=spec.name,
        type=types[type(spec.default)],
        description=f"{spec.description} ({when})",
        additional_constraints=constraints,
        read_only=spec.read_only,
    )
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
        else:
            descriptor.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
    return descriptor
