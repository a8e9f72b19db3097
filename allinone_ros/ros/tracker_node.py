"""``tracker_node``: the All-in-One tracker as a ROS 2 lifecycle node.

Run it with ``ros2 run allinone_ros tracker_node``, the ``tracker_node`` console script, or
``python -m allinone_ros.ros.tracker_node --ros-args -p checkpoint:=model.safetensors``.
Default parameters: ``config/tracker.yaml``; each parameter is documented in
:mod:`allinone_ros.ros.node_config` (``ros2 param describe`` shows the same text).

Lifecycle (``rclpy.lifecycle``; ``autostart`` = configure + activate at start):

* configure: validate all parameters, read the checkpoint (strict) into CPU memory, build the
  tracker through ``backend`` / ``precision`` (an engine or ONNX file is built into, or taken
  from, ``engine_cache_dir``), create the publishers and the 1 Hz diagnostics timer. Fails, with
  the reasons logged, on any invalid parameter, an unreadable checkpoint or a backend that cannot
  run here. On a GPU the built tracker is released again at once (the GPU is used only while
  active); activate rebuilds it from the cache, with the backend ``auto`` chose at configure.
* activate: (on a GPU) build the tracker on ``device``, start the inference thread, subscribe.
* deactivate: unsubscribe, stop the thread, end the current track; on a GPU release the backend
  (engine, session, cast weights), move the model back to CPU memory and empty the CUDA cache
  (the GPU is free while inactive). On the CPU the tracker is kept for the next activate.
* cleanup: drop the tracker, model and publishers; back to unconfigured (all parameters settable).

Topics (relative names resolve in the node's namespace, e.g. ``/track_command`` at the root):

* in ``image_topic`` (default ``/camera/image_raw``), ``sensor_msgs/Image``: depth 1,
  reliability from ``qos_reliability``; with ``compressed_input`` the node subscribes to
  ``<image_topic>/compressed`` (``sensor_msgs/CompressedImage``) instead.
* in ``track_command``, ``std_msgs/String``: a sentence (start / re-target), or ``stop`` /
  ``cancel`` (any case, surrounding whitespace ignored) to return to idle.
* in ``track_request``, ``allinone_ros/TrackRequest``: sentence + optional box + image stamp;
  no box and no sentence = stop.
* out ``~/target``, ``allinone_ros/TrackedTarget``: one per processed image, in every state,
  stamped with that image's header.
* out ``~/debug_image``, ``sensor_msgs/Image`` (rgb8): the annotated image, only with
  ``debug_image`` true and while someone subscribes.
* out ``/diagnostics``, ``diagnostic_msgs/DiagnosticArray``: 1 Hz while configured (input and
  processed rates, latency p50/p95, dropped/invalid frames, camera frames estimated missing from
  gaps in the image stamps (:mod:`allinone_ros.ros.input_monitor`; WARN above ``input_loss_warn``),
  backend as ``name precision (device)`` e.g. ``onnxruntime fp32 (cpu)``, device, states).

A box in a ``track_request`` is applied to the image with the request's stamp if that image is
still among the last ``frame_history`` received images; tracking then continues on the newest
image. Otherwise (stamp zero, too old, or not yet received) it is applied to the next image.
The target lifecycle (idle, grounding, waiting for a box, tracking, lost) is the core's
:mod:`allinone_ros.lifecycle.machine`, the same code the CLIs and the evaluation run; sentence
checks are in :mod:`allinone_ros.ros.commands`. A request stamp that matches no kept image gives a
WARN saying how old it is, and the box goes to the next image.

Threads: a single-threaded executor runs every ROS callback; callbacks only hand messages to
an :class:`~allinone_ros.ros.inference_worker.InferenceWorker`, which decodes, tracks and
publishes on its own thread, always taking the newest image (one-slot mailbox; replaced images
count as dropped). ``frames_dropped`` counts these since the process started; images that the
transport loses or the depth-1 DDS queue replaces before the executor takes them never reach the
node: ``frames_missing_estimated`` in /diagnostics estimates them from the camera stamps.
``latency_ms`` is decode + model + post-processing of that image.

Bad input (unsupported encoding, wrong data size, empty image, an undecodable compressed image,
NaN/negative/off-image boxes, over-long or binary sentences) is logged with a specific,
throttled warning and skipped; the node keeps serving the next valid input.
"""
from __future__ import annotations

import functools
import gc
import logging
import re
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from allinone_ros.msg import TrackedTarget, TrackRequest

from ..backends.base import Backend
from ..backends.config import BackendConfig
from ..backends.backend_tracker import describe_tracker, make_tracker
from ..checkpoint import CheckpointError
from ..grounding import GrounderConfig, GroundingModelError, build_grounder
from ..lifecycle import TargetLifecycle, TargetResult, TargetState
from ..ops.boxes import centre_offset
from ..tracker import InputError, Tracker
from .annotate import annotate
from .commands import Command, CommandError, Start, Stop, parse_command_text, parse_track_request
from .diagnostics import NodeStats, diagnostic_status
from .image_conversion import ImageConversionError, compressed_msg_to_rgb, image_msg_to_rgb, rgb_to_image_msg
from .inference_worker import InferenceWorker, StampedHistory
from .input_monitor import StampGapMonitor, loss_fields, loss_warning
from .node_config import (
    NODE_NAME, PARAMETERS, SPECS, Environment, LiveSettings, NodeSettings, SettingsError, check_runtime_set,
    live_from_values, parameter_descriptor, settings_from_values,
)

THROTTLE_S = 2.0
RCLError = _rclpy.RCLError

ImageMsg = Image | CompressedImage


class ParameterDeclarationError(RuntimeError):
    """Start-up parameter values that rclpy refused (wrong type, out of range)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class ThrottledWarnings:
    """Throttled warnings, throttled per kind of problem rather than per call site.

    rclpy throttles per logger object and call site, so one helper would let one kind of bad
    input hide another. Each distinct message shape (digits masked) gets its own logger object
    with the node's logger name; the most recent 64 shapes are kept.
    """

    def __init__(self, logger_name: str, period_s: float = THROTTLE_S, max_kinds: int = 64) -> None:
        self._name, self._period, self._max = logger_name, period_s, max_kinds
        self._loggers: OrderedDict[str, RcutilsLogger] = OrderedDict()

    def warn(self, message: str) -> None:
        key = re.sub(r"\d+", "#", message)[:160]
        logger = self._loggers.get(key)
        if logger is None:
            logger = self._loggers[key] = rclpy.logging.get_logger(self._name)
            while len(self._loggers) > self._max:
                self._loggers.popitem(last=False)
        else:
            self._loggers.move_to_end(key)
        logger.warning(message, throttle_duration_sec=self._period)


class _RosLogHandler(logging.Handler):
    """Forward the library's Python log records (``allinone_ros.*``) to the node's ROS logger."""

    def __init__(self, logger: RcutilsLogger) -> None:
        super().__init__(logging.INFO)
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"[{record.name}] {record.getMessage()}"
            if record.levelno >= logging.ERROR:
                self._logger.error(text)
            elif record.levelno >= logging.WARNING:
                self._logger.warning(text)
            else:
                self._logger.info(text)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def target_message(header: Any, result: TargetResult, latency_ms: float, frames_dropped: int) -> TrackedTarget:
    """The ``TrackedTarget`` for one processed image (``header`` is the image's).

    TRACKING: this image's box. LOST: the last known box (the last TRACKING one) and this image's
    confidence, as the message documents. Other states: zeros.
    """
    height, width = result.image_size
    msg = TrackedTarget(
        header=header, state=int(result.state), sentence=result.sentence, latency_ms=float(latency_ms),
        frames_dropped=int(frames_dropped), image_width=width, image_height=height,
    )
    box = result.box_xywh if result.state == TargetState.TRACKING else (
        result.last_box_xywh if result.state == TargetState.LOST else None)
    if box is not None:
        msg.x, msg.y, msg.width, msg.height = (float(v) for v in box)
        msg.offset_x, msg.offset_y = centre_offset(box, width, height)
        msg.confidence = float(min(max(result.confidence, 0.0), 1.0))
    return msg


def _logged_transition(func: Any) -> Any:
    """rclpy turns an exception in a transition callback into ERROR without a word: log it first."""

    @functools.wraps(func)
    def wrapper(self: TrackerNode, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return func(self, state)
        except Exception as exc:  # noqa: BLE001 - reported, then the lifecycle error path runs
            self.get_logger().error(
                f"{func.__name__} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            )
            return TransitionCallbackReturn.ERROR

    return wrapper


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


class TrackerNode(LifecycleNode):
    """Language-guided single-object tracking on a camera stream (see the module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._lifecycle = "unconfigured"
        self._declare_parameters()
        self.add_on_set_parameters_callback(self._check_parameter_set)
        self.add_post_set_parameters_callback(self._apply_parameter_set)
        self._env = Environment.current()
        self._warnings = ThrottledWarnings(self.get_logger().name)
        self._live: LiveSettings = live_from_values(self._parameter_values())
        self._stats = NodeStats()
        self._input_loss = StampGapMonitor()  # camera frames missing from the stamp sequence
        self._dropped_before = 0  # drops counted by workers of earlier activations
        self._debug_published = 0
        self._settings: NodeSettings | None = None
        self._model: Any = None  # AllInOne, on CPU while inactive
        self._tracker: Tracker | None = None  # configure..cleanup on the CPU; only while active on a GPU
        self._backend_config: BackendConfig | None = None  # with auto resolved by the configure build
        self._backend_text = ""  # e.g. "onnxruntime fp32 (cpu)", for diagnostics
        self._target: TargetLifecycle | None = None
        self._worker: InferenceWorker[ImageMsg, Command] | None = None
        self._history: StampedHistory[ImageMsg] = StampedHistory(0)
        self._subscriptions_active: list[Any] = []
        self._target_pub: Any = None
        self._debug_pub: Any = None
        self._diag_pub: Any = None
        self._diag_timer: Any = None
        self._log_handler = _RosLogHandler(self.get_logger())
        library_log = logging.getLogger("allinone_ros")
        library_log.addHandler(self._log_handler)
        library_log.setLevel(logging.INFO)

    # -- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> None:
        reasons = []
        for spec in PARAMETERS:
            try:
                self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
            except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
                hint = ""
                if isinstance(spec.default, float) and "INTEGER" in str(exc):
                    hint = f" (write a decimal point, e.g. {spec.name}:=1.0)"
                reasons.append(f"parameter {spec.name}: {exc}{hint}")
        if reasons:
            raise ParameterDeclarationError(reasons)

    def _parameter_values(self) -> dict[str, Any]:
        return {name: self.get_parameter(name).value for name in SPECS}

    def _check_parameter_set(self, params: list[Parameter]) -> SetParametersResult:
        for param in params:
            if param.name not in SPECS:  # rclpy's own parameters (use_sim_time, ...)
                continue
            reason = check_runtime_set(param.name, param.value, self._lifecycle, self._env)
            if reason:
                self.get_logger().warning(f"refused to set parameter {param.name}={param.value!r}: {reason}")
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_parameter_set(self, params: list[Parameter]) -> None:
        self._live = live_from_values(self._parameter_values())
        target = self._target
        if target is not None:
            target.config = self._live.lifecycle  # read by the worker from its next image on
        for param in params:
            if param.name in SPECS:
                self.get_logger().info(f"parameter {param.name} set to {param.value!r}")

    @property
    def autostart(self) -> bool:
        return bool(self.get_parameter("autostart").value)

    # -- lifecycle ----------------------------------------------------------------------------
    @_logged_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            settings = settings_from_values(self._parameter_values(), self._env)
        except SettingsError as exc:
            for reason in exc.reasons:
                self.get_logger().error(f"configure failed: {reason}")
            return TransitionCallbackReturn.FAILURE
        try:
            model, settings = self._load_model(settings)
        except (CheckpointError, OSError, ValueError, RuntimeError) as exc:
            self.get_logger().error(f"configure failed: cannot load the model: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._settings, self._model = settings, model
        self._backend_config = settings.backend_config()
        try:
            self._build_tracker()
        except (RuntimeError, ValueError, OSError) as exc:
            self.get_logger().error(f"configure failed: cannot run backend {settings.backend!r} "
                                    f"({settings.precision}, {settings.device}): {exc}")
            self._release_tracker()
            self._settings = self._model = self._backend_config = None
            return TransitionCallbackReturn.FAILURE
        if settings.device != "cpu":
            self._release_tracker()  # built to check it and fill the cache; the GPU is used only while active
        self._live = settings.live
        self._history = StampedHistory(settings.frame_history)
        self._target_pub = self.create_lifecycle_publisher(TrackedTarget, "~/target", 10)
        debug_qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        self._debug_pub = self.create_lifecycle_publisher(Image, "~/debug_image", debug_qos)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        self._lifecycle = "inactive"
        self.get_logger().info(
            f"configured: device {settings.device}, backend {self._backend_text}, input {settings.input_topic} "
            f"({settings.qos_reliability}, depth 1)"
        )
        return super().on_configure(state)

    def _load_model(self, settings: NodeSettings) -> tuple[Any, NodeSettings]:
        """The network (on the CPU) and ``settings`` with the crop factors settled (parameter > checkpoint > paper)."""
        import torch

        from ..tracker.factory import default_model_path, load_tracker_model

        if settings.cpu_threads > 0:
            torch.set_num_threads(settings.cpu_threads)
        path = settings.checkpoint or str(default_model_path())
        model, config = load_tracker_model(path, settings.tracker_config(), trust=settings.trust_checkpoint)
        cfg = model.cfg
        note = ("the sentence does not change the output (as released)" if cfg.language_encoder == "official"
                else "the sentence steers the tracker")
        self.get_logger().info(
            f"model {path} (width {cfg.embed_dim}, depth {cfg.depth}, language encoder {cfg.language_encoder}: "
            f"{note}); crops: template {config.template_factor:g}x -> {cfg.template_size} px, "
            f"search {config.search_factor:g}x -> {cfg.search_size} px"
        )
        return model, replace(settings, template_factor=config.template_factor, search_factor=config.search_factor)

    def _build_tracker(self) -> None:
        """The tracker through the configured backend; pins the backend ``auto`` chose."""
        assert self._settings is not None and self._backend_config is not None
        tracker = make_tracker(self._model, self._settings.tracker_config(), self._backend_config)
        self._tracker = tracker
        backend = tracker.runner
        assert isinstance(backend, Backend)  # make_tracker runs the network through one
        self._backend_config = replace(self._backend_config, name=backend.name)
        self._backend_text = describe_tracker(tracker)
        self.get_logger().info(f"backend: {self._backend_text} {backend.info}")

    def _build_grounder(self, settings: NodeSettings) -> Any:
        grounder = build_grounder(settings.grounder, GrounderConfig(device=settings.device))
        what = ("none: a sentence alone waits for a box" if grounder is None
                else f"{settings.grounder or 'built-in (default)'} ({type(grounder).__name__})")
        self.get_logger().info(f"grounder: {what}")
        if grounder is not None:  # the first call pays one-time set-up: not on the operator's first sentence
            t0 = time.perf_counter()
            grounder.ground(np.zeros((64, 64, 3), dtype=np.uint8), "warm up")
            self.get_logger().info(f"grounder warmed up in {(time.perf_counter() - t0) * 1e3:.0f} ms")
        return grounder

    @_logged_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = self._settings
        assert settings is not None
        try:
            if self._tracker is None:
                self._build_tracker()
        except (RuntimeError, ValueError, OSError) as exc:
            self.get_logger().error(f"activate failed: cannot put the model on {settings.device} "
                                    f"({self._backend_text}): {exc}")
            self._park_tracker()
            return TransitionCallbackReturn.FAILURE
        try:
            grounder = self._build_grounder(settings)
        except (GroundingModelError, OSError, ValueError, RuntimeError) as exc:
            self.get_logger().error(f"activate failed: cannot load the grounder: {exc}")
            self._park_tracker()
            return TransitionCallbackReturn.FAILURE
        assert self._tracker is not None
        self._target = TargetLifecycle(self._tracker, grounder, self._live.lifecycle)
        self._worker = InferenceWorker(
            self._process_frame, self._apply_command,
            min_period_s=lambda: self._live.min_period_s, on_error=self._worker_error,
        )
        self._worker.start()
        reliability = ReliabilityPolicy.RELIABLE if settings.qos_reliability == "reliable" \
            else ReliabilityPolicy.BEST_EFFORT
        image_qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability)
        image_type = CompressedImage if settings.compressed_input else Image
        self._subscriptions_active = [
            self.create_subscription(image_type, settings.input_topic, self._on_image, image_qos),
            self.create_subscription(String, "track_command", self._on_command, 10),
            self.create_subscription(TrackRequest, "track_request", self._on_request, 10),
        ]
        self._lifecycle = "active"
        self.get_logger().info(
            f"active: tracking on {self.resolve_topic_name(settings.input_topic)}, commands on "
            f"{self.resolve_topic_name('track_command')} and {self.resolve_topic_name('track_request')}, "
            f"output on {self.resolve_topic_name('~/target')}"
        )
        return super().on_activate(state)

    @_logged_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._lifecycle = "inactive"
        self.get_logger().info("inactive: unsubscribed, track ended, model off the device")
        return super().on_deactivate(state)

    @_logged_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all("unconfigured")
        self.get_logger().info("unconfigured: model and publishers released")
        return super().on_cleanup(state)

    @_logged_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all("finalized")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during a transition from {state.label}; releasing everything")
        self._release_all("unconfigured")
        return TransitionCallbackReturn.SUCCESS

    def _release_all(self, lifecycle: str) -> None:
        """Stop processing, release what configure made, and record the new lifecycle state."""
        self._stop_processing()
        self._teardown_configured()
        self._lifecycle = lifecycle

    def _stop_processing(self) -> None:
        for sub in self._subscriptions_active:
            self.destroy_subscription(sub)
        self._subscriptions_active = []
        if self._worker is not None:
            if not self._worker.stop(timeout=30.0):
                self.get_logger().error("the inference thread did not stop within 30 s")
            self._dropped_before += self._worker.dropped
            self._worker = None
        self._target = None
        self._history.clear()
        self._input_loss.break_stream()  # the gap while inactive is no loss
        self._park_tracker()

    def _park_tracker(self) -> None:
        """End the track; on a GPU also release the tracker (the GPU is free while inactive)."""
        if self._tracker is not None:
            self._tracker.reset()
        if self._settings is None or self._settings.device != "cpu":
            self._release_tracker()

    def _release_tracker(self) -> None:
        """Drop the tracker and what its backend holds (engine, session, cast weights); model back to CPU."""
        tracker, self._tracker = self._tracker, None
        if tracker is not None and isinstance(tracker.runner, Backend):
            tracker.runner.release()
        del tracker
        self._release_device()

    def _release_device(self) -> None:
        import torch

        if self._model is not None:
            self._model.to("cpu")
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _teardown_configured(self) -> None:
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        for pub in (self._target_pub, self._debug_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
        self._diag_timer = self._target_pub = self._debug_pub = self._diag_pub = None
        self._release_tracker()
        self._model = None
        self._settings = self._backend_config = None
        self._backend_text = ""
        self._release_device()

    def shutdown_processing(self) -> None:
        """Stop the inference thread (used by ``main`` on exit, whatever the lifecycle state)."""
        self._stop_processing()
        logging.getLogger("allinone_ros").removeHandler(self._log_handler)

    # -- callbacks (executor thread): hand over and return ---------------------------------------
    def _on_image(self, msg: ImageMsg) -> None:
        self._stats.frame_received()
        self._input_loss.add(_stamp_ns(msg), self._live.camera_rate_hz)
        self._history.add(_stamp_ns(msg), msg)
        worker = self._worker
        if worker is not None:
            worker.submit_frame(msg)

    def _on_command(self, msg: String) -> None:
        self._submit("track_command", lambda: parse_command_text(msg.data, self._live.max_sentence_chars))

    def _on_request(self, msg: TrackRequest) -> None:
        self._submit("track_request", lambda: parse_track_request(
            msg.sentence, msg.has_box, msg.x, msg.y, msg.width, msg.height,
            msg.stamp.sec, msg.stamp.nanosec, self._live.max_sentence_chars,
        ))

    def _submit(self, topic: str, parse: Callable[[], Command]) -> None:
        """Parse a message from ``topic`` and hand the command to the worker; a bad one is warned about."""
        try:
            command = parse()
        except CommandError as exc:
            self._warnings.warn(f"{topic} ignored: {exc}")
            return
        self.get_logger().info(f"{topic}: {command.describe()}")
        worker = self._worker
        if worker is not None:
            worker.submit_command(command)

    # -- worker thread --------------------------------------------------------------------------
    def _worker_error(self, where: str, exc: BaseException) -> None:
        self.get_logger().error(f"unexpected error while processing a {where}: {type(exc).__name__}: {exc}")

    def _decode(self, msg: ImageMsg) -> Any:
        """RGB array of ``msg``, or None after a throttled warning naming the problem."""
        try:
            if isinstance(msg, CompressedImage):
                return compressed_msg_to_rgb(msg)
            return image_msg_to_rgb(msg)
        except ImageConversionError as exc:
            self._stats.frame_invalid()
            stamp = _stamp_ns(msg) / 1e9
            self._warnings.warn(f"image stamped {stamp:.9f} skipped: {exc}")
            return None

    def _frame_from_history(self, stamp_ns: int) -> Any:
        msg = self._history.find(stamp_ns)
        return None if msg is None else self._decode(msg)

    def _apply_command(self, command: Command) -> None:
        target = self._target
        if target is None:
            return
        if isinstance(command, Stop):
            was = target.state
            target.stop()
            self.get_logger().info(f"stopped ({command.source}); {was.name} -> IDLE")
            return
        try:
            self._start(target, command)
        except InputError as exc:
            self._warnings.warn(f"track_request rejected: {exc}; state stays {target.state.name}")

    def _start(self, target: TargetLifecycle, command: Start) -> None:
        """Apply a start / re-target request; a box goes to the image its stamp names, if still kept."""
        if command.box_xywh is None:
            was = target.state
            target.request(command.sentence)
            if was in (TargetState.TRACKING, TargetState.LOST):
                self.get_logger().info(f"re-targeted the running track to the sentence {command.sentence!r} (box kept)")
            elif target.state == TargetState.GROUNDING:
                self.get_logger().info(f"GROUNDING: looking for {command.sentence!r} in the next images (no box given)")
            else:
                self.get_logger().info(
                    f"WAITING_FOR_BOX: got the sentence {command.sentence!r} but no box and no grounder "
                    "(parameter grounder is 'none'); send a track_request with a box")
            return
        frame = None
        if command.stamp_ns is not None:
            frame = self._frame_from_history(command.stamp_ns)
            if frame is None:
                self._warnings.warn(self._stamp_miss_text(command.stamp_ns))
        target.request(command.sentence, command.box_xywh, frame)
        if frame is not None:
            assert command.stamp_ns is not None
            self.get_logger().info(f"tracking started on the image stamped {command.stamp_ns / 1e9:.9f} with box "
                                   f"{list(command.box_xywh)} and sentence {target.sentence!r}")
        else:
            self.get_logger().info(f"box {list(command.box_xywh)} will be applied to the next image")

    def _stamp_miss_text(self, stamp_ns: int) -> str:
        newest = self._history.newest_stamp()
        if newest is None:
            age = "no image is kept (frame_history is 0, or none has arrived yet)"
        else:
            age = f"it is {(newest - stamp_ns) / 1e9:+.3f} s older than the newest image ({newest / 1e9:.9f})"
        return (f"track_request stamp {stamp_ns / 1e9:.9f} matches no kept image ({age}); "
                "its box is applied to the next image instead")

    def _process_frame(self, msg: ImageMsg) -> None:
        target, live = self._target, self._live
        if target is None:
            return
        start = time.perf_counter()
        rgb = self._decode(msg)
        if rgb is None:
            return
        was, pending = target.state, target.has_pending_start
        try:
            result = target.process(rgb)
        except InputError as exc:  # a pending box that does not fit this image, or a guard on the image
            if pending:
                self._warnings.warn(f"track_request rejected: {exc}; state stays {target.state.name}")
            else:
                self._stats.frame_invalid()
                self._warnings.warn(f"image stamped {_stamp_ns(msg) / 1e9:.9f} skipped by the tracker: {exc}")
            return
        if result.state != was:
            log = self._warnings.warn if result.state == TargetState.LOST else self.get_logger().info
            log(f"{was.name} -> {result.state.name} (confidence {result.confidence:.2f})")
        latency_ms = (time.perf_counter() - start) * 1e3
        self._target_pub.publish(target_message(msg.header, result, latency_ms, self._frames_dropped()))
        self._stats.frame_processed(latency_ms)
        if live.debug_image and self._debug_pub.get_subscription_count() > 0:
            self._debug_pub.publish(rgb_to_image_msg(annotate(rgb, result), "rgb8", msg.header))
            self._debug_published += 1

    def _frames_dropped(self) -> int:
        worker = self._worker
        return self._dropped_before + (worker.dropped if worker is not None else 0)

    # -- diagnostics (executor thread) ----------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        settings = self._settings
        if self._diag_pub is None or settings is None:
            return
        target = self._target
        track_state = target.state.name if target is not None else TargetState.IDLE.name
        snapshot = self._stats.snapshot(self._frames_dropped())
        fields = {
            "backend": self._backend_text,
            "device": settings.device,
            "checkpoint": settings.checkpoint or "(default model)",
            "grounder": settings.grounder or "(built-in grounder)",
            "language_encoder": str(self._model.cfg.language_encoder) if self._model is not None else "",
            "input_topic": self.resolve_topic_name(settings.input_topic),
            "sentence": target.sentence if target is not None else "",
            "max_rate_hz": f"{self._live.max_rate_hz:g}",
            "debug_images_published": str(self._debug_published),
        }
        loss = self._input_loss.snapshot()
        fields.update(loss_fields(loss))
        input_warning = loss_warning(loss, self._live.input_loss_warn) if self._lifecycle == "active" else None
        if input_warning:
            self._warnings.warn(input_warning)
        status = diagnostic_status(
            f"{self.get_name()}: tracker", settings.device, snapshot, fields, self._lifecycle, track_state,
            input_warning=input_warning,
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    """Entry point: start the node, configure + activate it when ``autostart``, spin until shutdown."""
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        rclpy.init(args=args)
    except RCLError as exc:  # e.g. a malformed `-p name:=value` (an empty string needs `name:=''`)
        logger.fatal(f"cannot start: {exc}")
        return 2
    node: TrackerNode | None = None
    try:
        try:
            node = TrackerNode()
        except ParameterDeclarationError as exc:
            for reason in exc.reasons:
                logger.fatal(f"invalid parameter at start-up: {reason}")
            return 1
        if node.autostart:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("autostart: configure failed (reasons above); exiting")
                return 1
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("autostart: activate failed (reasons above); exiting")
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
            node.shutdown_processing()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
