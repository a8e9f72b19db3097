"""``tracker_node``: the All-in-One tracker as a ROS 2 lifecycle node.

Run it with ``ros2 run allinone_ros tracker_node``, the ``tracker_node`` console script, or
``python -m allinone_ros.ros.tracker_node --ros-args -p checkpoint:=model.safetensors``.
Default parameters: ``config/tracker.yaml``; each parameter is documented in
:mod:`allinone_ros.ros.node_params` (``ros2 param describe`` shows the same text).

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

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from allinone_ros.msg import TrackedTarget, TrackRequest

from ..backends.config import BackendConfig
from ..checkpoint import CheckpointError
from ..grounding import GroundingModelError
from ..lifecycle import TargetLifecycle, TargetState
from ..tracker import InputError, Tracker
from .annotate import annotate
from .commands import Command, CommandError, Start, Stop, parse_command_text, parse_track_request
from .diagnostics import NodeStats, diagnostic_status
from .image_conversion import ImageConversionError, compressed_msg_to_rgb, image_msg_to_rgb, rgb_to_image_msg
from .inference_worker import InferenceWorker, StampedHistory
from .input_monitor import StampGapMonitor, loss_fields, loss_warning
from .node_base import ParameterLifecycleNode, logged_transition, run_node
from .node_checks import Environment, check_runtime_set
from .node_config import LiveSettings, NodeSettings, live_from_values, settings_from_values
from .node_logging import RosLogHandler, ThrottledWarnings
from .node_model import build_node_grounder, build_node_tracker, load_node_model, release_backend, release_device
from .node_params import NODE_NAME, PARAMETERS
from .param_specs import SettingsError
from .target_message import stamp_ns, target_message


ImageMsg = Image | CompressedImage


class TrackerNode(ParameterLifecycleNode):
    """Language-guided single-object tracking on a camera stream (see the module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, PARAMETERS, "applied to the next frame", **kwargs)
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
        self._log_handler = RosLogHandler(self.get_logger())
        library_log = logging.getLogger("allinone_ros")
        library_log.addHandler(self._log_handler)
        library_log.setLevel(logging.INFO)

    # -- parameters ---------------------------------------------------------------------------
    def _parameter_refusal(self, param: Parameter) -> str | None:
        return check_runtime_set(param.name, param.value, self._lifecycle, self._env)

    def _parameters_changed(self, params: list[Parameter]) -> None:
        self._live = live_from_values(self._parameter_values())
        target = self._target
        if target is not None:
            target.config = self._live.lifecycle  # read by the worker from its next image on

    # -- lifecycle ----------------------------------------------------------------------------
    @logged_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            settings = settings_from_values(self._parameter_values(), self._env)
        except SettingsError as exc:
            for reason in exc.reasons:
                self.get_logger().error(f"configure failed: {reason}")
            return TransitionCallbackReturn.FAILURE
        try:
            model, settings = load_node_model(settings, self.get_logger().info)
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
        self._start_diagnostics()
        self._lifecycle = "inactive"
        self.get_logger().info(
            f"configured: device {settings.device}, backend {self._backend_text}, input {settings.input_topic} "
            f"({settings.qos_reliability}, depth 1)"
        )
        return super().on_configure(state)

    def _build_tracker(self) -> None:
        """The tracker through the configured backend; pins the backend ``auto`` chose."""
        assert self._settings is not None and self._backend_config is not None
        self._tracker, self._backend_config, self._backend_text = build_node_tracker(
            self._model, self._settings, self._backend_config, self.get_logger().info)

    @logged_transition
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
            grounder = build_node_grounder(settings, self.get_logger().info)
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

    @logged_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._lifecycle = "inactive"
        self.get_logger().info("inactive: unsubscribed, track ended, model off the device")
        return super().on_deactivate(state)

    @logged_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all("unconfigured")
        self.get_logger().info("unconfigured: model and publishers released")
        return super().on_cleanup(state)

    @logged_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all("finalized")
        return super().on_shutdown(state)

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
        release_backend(tracker)
        del tracker
        release_device(self._model)

    def _teardown_configured(self) -> None:
        self._stop_diagnostics()
        for pub in (self._target_pub, self._debug_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._target_pub = self._debug_pub = None
        self._release_tracker()
        self._model = None
        self._settings = self._backend_config = None
        self._backend_text = ""
        release_device(self._model)

    def shutdown_processing(self) -> None:
        """Stop the inference thread (used by ``main`` on exit, whatever the lifecycle state)."""
        self._stop_processing()
        logging.getLogger("allinone_ros").removeHandler(self._log_handler)

    # -- callbacks (executor thread): hand over and return ---------------------------------------
    def _on_image(self, msg: ImageMsg) -> None:
        self._stats.frame_received()
        self._input_loss.add(stamp_ns(msg), self._live.camera_rate_hz)
        self._history.add(stamp_ns(msg), msg)
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
            stamp = stamp_ns(msg) / 1e9
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
                self._warnings.warn(f"image stamped {stamp_ns(msg) / 1e9:.9f} skipped by the tracker: {exc}")
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
    def _diagnostic_status(self) -> DiagnosticStatus | None:
        settings = self._settings
        if settings is None:
            return None
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
        return diagnostic_status(
            f"{self.get_name()}: tracker", settings.device, snapshot, fields, self._lifecycle, track_state,
            input_warning=input_warning,
        )


def main(args: list[str] | None = None) -> int:
    """Entry point: start the node, configure + activate it when ``autostart``, spin until shutdown."""
    return run_node(TrackerNode, NODE_NAME, args, on_exit=TrackerNode.shutdown_processing)


if __name__ == "__main__":
    sys.exit(main())
