"""The node's plain-Python parts: parameter table and checks, command parsing, the track state
machine's message mapping, the newest-frame worker, stats and the debug drawing.

No ROS graph; runs without rclpy except where a test says otherwise.
"""
from __future__ import annotations

import importlib.util
import math
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from allinone_ros.backends import BackendConfig
from allinone_ros.ros.annotate import annotate
from allinone_ros.ros.commands import CommandError, Start, Stop, check_sentence, parse_command_text, parse_track_request
from allinone_ros.ros.diagnostics import NodeStats, RateMeter
from allinone_ros.ros.inference_worker import InferenceWorker, StampedHistory
from allinone_ros.ros.node_checks import Environment, check_runtime_set, check_value
from allinone_ros.ros.node_config import LiveSettings, settings_from_values, yaml_parameters
from allinone_ros.ros.node_params import PARAMETERS, defaults
from allinone_ros.ros.param_specs import SettingsError
from allinone_ros.lifecycle import TargetResult, TargetState
from allinone_ros.ops.boxes import centre_offset
from allinone_ros.tracker import TrackerConfig
from builders import REPO, moving_target_frames, tiny_checkpoint

CONFIG_YAML = REPO / "config" / "tracker.yaml"


def fake_env(tmp_path: Path, cuda_devices: int = 0, default_model: bool = True) -> Environment:
    model = tmp_path / "default.safetensors"
    if default_model:
        model.write_bytes(b"x")

    def default() -> Path:
        if not default_model:
            raise FileNotFoundError("the default model allinone_uav_small.safetensors is not installed")
        return model

    return Environment(
        cuda_device_count=lambda: cuda_devices,
        default_model=default,
        topic_name_error=lambda name: "contains a space" if " " in name else None,
    )


# --------------------------------------------------------------------------- parameters


def test_config_yaml_holds_exactly_the_declared_parameters_with_their_defaults() -> None:
    params = yaml_parameters(CONFIG_YAML)
    assert list(params) == [p.name for p in PARAMETERS]
    assert params == defaults()
    for spec in PARAMETERS:  # same types as declared (rclpy refuses 1 for a double parameter)
        assert type(params[spec.name]) is type(spec.default), spec.name


def test_config_yaml_is_a_valid_ros_parameter_file() -> None:
    if importlib.util.find_spec("rclpy") is None:
        pytest.skip("rclpy not installed")
    from rclpy.parameter import parameter_dict_from_yaml_file, parameter_value_to_python

    parsed = parameter_dict_from_yaml_file(str(CONFIG_YAML), target_nodes=["tracker_node"])
    values = {name: parameter_value_to_python(p.value) for name, p in parsed.items()}
    assert values == defaults()


def test_every_parameter_is_documented_and_ranges_fit_their_defaults() -> None:
    for spec in PARAMETERS:
        assert len(spec.description) > 20, spec.name
        assert check_value(spec.name, spec.default) is None, spec.name
    assert {p.name for p in PARAMETERS if p.read_only} == {"trust_checkpoint", "autostart"}


def test_defaults_validate_and_map_to_the_release_tracker_config(tmp_path: Path) -> None:
    settings = settings_from_values(defaults(), fake_env(tmp_path))
    assert settings.tracker_config() == TrackerConfig(device="cpu")
    assert settings.backend_config() == BackendConfig(name="eager", precision="fp32", device="cpu", cache_dir="")
    assert settings.input_topic == "/camera/image_raw"
    assert settings.live == LiveSettings()
    compressed = settings_from_values({**defaults(), "compressed_input": True}, fake_env(tmp_path))
    assert compressed.input_topic == "/camera/image_raw/compressed"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("device", "gpu", "device must be one of 'cpu', 'cuda', 'cuda:N', got 'gpu'"),
        ("device", "cuda:x", "got 'cuda:x'"),
        ("qos_reliability", "sometimes", "qos_reliability must be one of best_effort, reliable"),
        ("backend", "fastest", "backend must be one of auto, eager, compile, tensorrt, onnxruntime, got 'fastest'"),
        ("backend", "pytorch-eager", "backend must be one of"),
        ("precision", "fp64", "precision must be one of fp32, fp16, bf16, got 'fp64'"),
        ("precision", 16, "precision must be of type str"),
        ("image_topic", "  ", "image_topic must not be empty"),
        ("lost_threshold", 1.5, "lost_threshold must be in [0.0, 1.0], got 1.5"),
        ("lost_threshold", float("nan"), "must be a finite number"),
        ("lost_patience", 0, "lost_patience must be in [1, 10000], got 0"),
        ("max_rate_hz", -1.0, "max_rate_hz must be in [0.0, 1000.0], got -1.0"),
        ("debug_image", 1, "debug_image must be of type bool, got 1"),
        ("lost_patience", 2.5, "lost_patience must be of type int"),
        ("nonsense", 1, "unknown parameter 'nonsense'"),
    ],
)
def test_check_value_names_the_problem(name: str, value: object, reason: str) -> None:
    message = check_value(name, value)
    assert message is not None and reason in message


def test_machine_checks_device_and_checkpoint(tmp_path: Path) -> None:
    no_cuda, one_gpu = fake_env(tmp_path, 0), fake_env(tmp_path, 1)
    assert "CUDA is not available" in check_value("device", "cuda", no_cuda, deep=True)
    assert check_value("device", "cuda", one_gpu, deep=True) is None
    assert check_value("device", "cuda:0", one_gpu, deep=True) is None
    assert "only 1 CUDA device(s) exist" in check_value("device", "cuda:1", one_gpu, deep=True)
    assert check_value("device", "cuda:1", no_cuda) is None  # shallow: syntax only
    assert "does not exist" in check_value("checkpoint", str(tmp_path / "missing.pth"), no_cuda, deep=True)
    assert "is not a file" in check_value("checkpoint", str(tmp_path), no_cuda, deep=True)
    assert check_value("checkpoint", "", no_cuda, deep=True) is None
    missing_default = fake_env(tmp_path, default_model=False)
    assert "default model" in check_value("checkpoint", "", missing_default, deep=True)
    assert "not a valid topic name: contains a space" in check_value("image_topic", "a b", no_cuda)


def test_settings_from_values_reports_every_problem_at_once(tmp_path: Path) -> None:
    values = {**defaults(), "device": "gpu", "qos_reliability": "x", "checkpoint": str(tmp_path / "none.pth")}
    with pytest.raises(SettingsError) as info:
        settings_from_values(values, fake_env(tmp_path))
    assert len(info.value.reasons) == 3
    with pytest.raises(SettingsError, match="missing parameter 'device'"):
        settings_from_values({k: v for k, v in defaults().items() if k != "device"}, fake_env(tmp_path))


def test_backend_parameters_map_onto_the_backend_config(tmp_path: Path) -> None:
    values = {**defaults(), "backend": "onnxruntime", "precision": "fp16", "engine_cache_dir": " ~/engines ",
              "cpu_threads": 2}
    settings = settings_from_values(values, fake_env(tmp_path))
    assert settings.backend_config() == BackendConfig(
        name="onnxruntime", precision="fp16", device="cpu", cache_dir=str(Path("~/engines").expanduser()),
        ort_intra_threads=2,
    )
    assert settings_from_values({**defaults(), "backend": "auto"}, fake_env(tmp_path)).backend_config().name == "auto"
    a_file = tmp_path / "cache.txt"
    a_file.write_text("x")
    assert "engine_cache_dir" in check_value("engine_cache_dir", str(a_file))
    assert "is not a directory" in check_value("engine_cache_dir", str(a_file))
    assert check_value("engine_cache_dir", str(tmp_path / "not-yet")) is None  # created when needed
    # combinations (tensorrt on the CPU, onnxruntime in bf16) are the backend's to judge, at configure
    assert settings_from_values({**defaults(), "backend": "tensorrt", "precision": "bf16"}, fake_env(tmp_path))


def test_runtime_sets_depend_on_apply_time_and_lifecycle_state(tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    assert "read-only" in check_runtime_set("autostart", False, "unconfigured", env)
    assert "read-only" in check_runtime_set("trust_checkpoint", True, "unconfigured", env)
    assert check_runtime_set("device", "cpu", "unconfigured", env) is None
    for state in ("inactive", "active"):
        assert f"the node is {state}" in check_runtime_set("device", "cpu", state, env)
        for name, value in (("backend", "onnxruntime"), ("precision", "fp16"), ("engine_cache_dir", "/tmp")):
            assert "takes effect at the configure transition" in check_runtime_set(name, value, state, env)
    assert check_runtime_set("backend", "onnxruntime", "unconfigured", env) is None
    assert "backend must be one of" in check_runtime_set("backend", "fastest", "unconfigured", env)
    assert check_runtime_set("lost_threshold", 0.5, "active", env) is None
    assert "lost_threshold must be in" in check_runtime_set("lost_threshold", 5.0, "active", env)
    assert LiveSettings(max_rate_hz=4.0).min_period_s == 0.25 and LiveSettings().min_period_s == 0.0


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize("text", ["stop", "STOP", "  Cancel\n", "\tstop "])
def test_stop_words_any_case_trimmed(text: str) -> None:
    assert isinstance(parse_command_text(text, 1024), Stop)


def test_sentence_commands_are_normalised_not_truncated() -> None:
    assert parse_command_text("  the\tred\n\ncar  ", 1024) == Start("the red car")
    assert parse_command_text("stop the red car", 1024) == Start("stop the red car")
    assert check_sentence("x" * 64, 64) == "x" * 64
    with pytest.raises(CommandError, match="of 65 characters exceeds max_sentence_chars=64; rejected, not truncated"):
        check_sentence("x" * 65, 64)
    with pytest.raises(CommandError, match="track_command is empty"):
        parse_command_text(" \n ", 1024)
    assert check_sentence("caf\u00e9 \u200d ok", 64) == "caf\u00e9 \u200d ok"  # format chars (ZWJ) are text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("red\x00car", "control character U+0000 at index 3"),
        ("\x1b[31mred", "control character U+001B at index 0"),
        ("ab\ufffdcd", "invalid UTF-8 (decoded as U+FFFD) at index 2"),
        ("x\x85y", "control character U+0085"),
    ],
)
def test_binary_garbage_is_rejected_with_its_position(text: str, reason: str) -> None:
    with pytest.raises(CommandError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        parse_command_text(text, 1024)


def test_track_request_parsing() -> None:
    assert parse_track_request("", False, 0, 0, 0, 0, 0, 0, 64) == Stop("track_request with no box and no sentence")
    assert parse_track_request(" a car ", False, 1, 2, 3, 4, 5, 6, 64) == Start("a car")
    assert parse_track_request("", True, 1, 2, 3, 4, 0, 0, 64) == Start("", (1.0, 2.0, 3.0, 4.0), None)
    assert parse_track_request("car", True, 1, 2, 3, 4, 2, 5, 64) == Start("car", (1.0, 2.0, 3.0, 4.0), 2_000_000_005)
    for box, reason in [((math.nan, 0, 1, 1), "non-finite"), ((0, math.inf, 1, 1), "non-finite"),
                        ((0, 0, -1, 1), "width and height >= 1 px"), ((0, 0, 1, 0), "width and height >= 1 px"),
                        ((5, 5, 0.01, 0.01), "got w=0.01, h=0.01")]:
        with pytest.raises(CommandError, match=reason):
            parse_track_request("", True, *box, 0, 0, 64)
    with pytest.raises(CommandError, match="exceeds max_sentence_chars=8"):
        parse_track_request("a" * 9, True, 1, 1, 1, 1, 0, 0, 8)


FRAMES, TRUTH = moving_target_frames(12, size=(120, 160), box=(40.0, 30.0, 30.0, 20.0), velocity=(2.0, 1.0))
BOX = np.asarray(TRUTH[0], dtype=np.float64)


def test_the_node_builds_its_tracker_through_the_lifecycle_factory(tmp_path: Path) -> None:
    """The node's configure path (node_model) and lifecycle.build_tracker give the same tracker: same boxes."""
    from allinone_ros.lifecycle import build_tracker
    from allinone_ros.ros.node_model import build_node_tracker, load_node_model

    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    settings = settings_from_values({**defaults(), "checkpoint": str(checkpoint)}, fake_env(tmp_path))
    logs: list[str] = []
    model, settings = load_node_model(settings, logs.append)
    node_tracker, backend_config, text = build_node_tracker(model, settings, settings.backend_config(), logs.append)
    assert backend_config == settings.backend_config() and text == "eager fp32 (cpu)"
    assert logs[0].startswith(f"model {checkpoint}") and logs[1].startswith("backend: eager fp32 (cpu)")
    factory_tracker = build_tracker(checkpoint, settings.tracker_config(), settings.backend_config())
    for tracker in (node_tracker, factory_tracker):
        tracker.initialize(FRAMES[0], BOX, "the red box")
    for frame in FRAMES[1:4]:
        np.testing.assert_array_equal(node_tracker.track(frame).box_xywh, factory_tracker.track(frame).box_xywh)


def test_centre_offset_signs_and_range() -> None:
    assert centre_offset((150.0, 110.0, 20.0, 20.0), 320, 240) == (0.0, 0.0)
    assert centre_offset((300.0, 0.0, 20.0, 20.0), 320, 240) == pytest.approx((0.9375, -0.9166666))
    assert centre_offset((-100.0, 300.0, 10.0, 10.0), 320, 240) == (-1.0, 1.0)  # clipped


def test_track_state_values_equal_the_message_constants() -> None:
    msg = pytest.importorskip("allinone_ros.msg", reason="messages not built (scripts/setup_ros.sh)")
    for state in TargetState:
        assert getattr(msg.TrackedTarget, f"STATE_{state.name}") == state.value


# --------------------------------------------------------------------------- worker


class Gate:
    """A process_frame that records frames and blocks until released."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, frame: int) -> None:
        self.seen.append(frame)
        self.entered.set()
        self.release.wait(5)


def test_worker_processes_only_the_newest_frame_and_counts_drops() -> None:
    gate = Gate()
    worker: InferenceWorker[int, str] = InferenceWorker(gate, lambda c: None)
    worker.start()
    try:
        worker.submit_frame(0)
        assert gate.entered.wait(5)  # frame 0 is being processed (slow model)
        replaced = [worker.submit_frame(i) for i in range(1, 6)]  # 1..4 replaced by their successor
        assert replaced == [False, True, True, True, True]
        gate.release.set()
        assert _wait(lambda: gate.seen == [0, 5])
        assert worker.dropped == 4 and worker.submitted == 6
    finally:
        gate.release.set()
        assert worker.stop()


def test_worker_applies_commands_in_order_before_the_next_frame() -> None:
    log: list[str] = []
    worker: InferenceWorker[int, str] = InferenceWorker(lambda f: log.append(f"frame {f}"), log.append)
    worker.start()
    try:
        worker.submit_command("a")
        worker.submit_command("b")
        worker.submit_frame(1)
        assert _wait(lambda: log == ["a", "b", "frame 1"])
    finally:
        assert worker.stop()


def test_worker_rate_limit_and_survives_handler_errors() -> None:
    errors: list[str] = []
    times: list[float] = []

    def process(frame: int) -> None:
        times.append(time.monotonic())
        if frame == 0:
            raise RuntimeError("boom")

    worker: InferenceWorker[int, str] = InferenceWorker(
        process, lambda c: None, min_period_s=lambda: 0.2, on_error=lambda where, exc: errors.append(f"{where}: {exc}"),
    )
    worker.start()
    try:
        for i in range(12):  # 12 frames over ~0.6 s, at most one per 0.2 s processed
            worker.submit_frame(i)
            time.sleep(0.05)
        assert _wait(lambda: len(times) >= 3)
        time.sleep(0.3)
        assert errors == ["frame: boom"]
        # every frame was processed or replaced; processed ones are at least min_period_s apart (a lower
        # bound a slow machine cannot break: how many fit in depends on its speed)
        assert worker.dropped == 12 - len(times)
        assert min(np.diff(times)) >= 0.19
    finally:
        assert worker.stop()
    assert not worker.alive


def test_stamped_history_keeps_the_last_n() -> None:
    history: StampedHistory[str] = StampedHistory(3)
    for i in range(5):
        history.add(i, f"img{i}")
    assert len(history) == 3 and history.find(1) is None and history.find(4) == "img4"
    disabled: StampedHistory[str] = StampedHistory(0)
    disabled.add(1, "x")
    assert disabled.find(1) is None and len(disabled) == 0


def _wait(pred, timeout: float = 5.0) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


# --------------------------------------------------------------------------- stats, drawing


def test_rates_and_latency_percentiles() -> None:
    stats = NodeStats(window_s=2.0)
    for i in range(61):  # 30 Hz input for 2 s, every other frame processed
        stats.frame_received(now=100.0 + i / 30)
        if i % 2 == 0:
            stats.frame_processed(latency_ms=float(i % 10 + 1), now=100.0 + i / 30)
    stats.frame_invalid()
    snap = stats.snapshot(dropped=7, now=102.0)
    assert snap.input_rate_hz == pytest.approx(30.0, rel=0.05)
    assert snap.processed_rate_hz == pytest.approx(15.0, rel=0.1)
    assert 1.0 <= snap.latency_p50_ms <= snap.latency_p95_ms <= snap.latency_max_ms == 9.0
    assert (snap.received, snap.processed, snap.dropped, snap.invalid) == (61, 31, 7, 1)
    assert stats.snapshot(0, now=110.0).input_rate_hz == 0.0  # the stream stopped: no stale rate
    meter = RateMeter(1.0)
    assert meter.rate(0.0) == 0.0


def test_annotate_draws_on_a_copy() -> None:
    frame = FRAMES[0]
    before = frame.copy()
    result = TargetResult(TargetState.LOST, None, 0.12, "the red box " * 10, (120, 160), 3, last_box_xywh=BOX)
    out = annotate(frame, result)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(frame, before) and not np.array_equal(out, frame)
    assert not np.array_equal(out, annotate(frame, replace(result, last_box_xywh=None)))  # the last known box
    idle = annotate(frame, replace(result, state=TargetState.IDLE, last_box_xywh=None, sentence=""))
    assert not np.array_equal(idle, frame)  # the state label is drawn
