"""The node's plain-Python parts: parameter table and checks, command parsing, the track state
machine (on a real tiny tracker), the newest-frame worker, stats and the debug drawing.

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
from allinone_ros.ros.node_config import (
    PARAMETERS, Environment, LiveSettings, SettingsError, check_runtime_set, check_value, defaults,
    settings_from_values, yaml_parameters,
)
from allinone_ros.ros.session import FrameResult, TrackingSession, TrackState, centre_offset
from allinone_ros.tracker import TrackerConfig
from allinone_ros.tracker.factory import build_tracker
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


# --------------------------------------------------------------------------- session (real tiny tracker)


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    path = tiny_checkpoint(tmp_path_factory.mktemp("session") / "tiny.safetensors")
    return build_tracker(path, TrackerConfig(device="cpu"))


FRAMES, TRUTH = moving_target_frames(12, size=(120, 160), box=(40.0, 30.0, 30.0, 20.0), velocity=(2.0, 1.0))
BOX = tuple(float(v) for v in TRUTH[0])


def test_session_idle_waiting_tracking_retarget_stop(tracker) -> None:  # noqa: ANN001
    events: list[tuple[str, str]] = []
    session = TrackingSession(tracker, log=lambda level, msg: events.append((level, msg)))
    idle = session.process(FRAMES[0], 0.0, 5)
    assert idle == FrameResult(TrackState.IDLE, None, 0.0, "", (120, 160))

    session.apply(Start("the red box"))
    waiting = session.process(FRAMES[1], 0.0, 5)
    assert (waiting.state, waiting.box_xywh, waiting.sentence) == (TrackState.WAITING_FOR_BOX, None, "the red box")
    assert "WAITING_FOR_BOX" in events[-1][1]

    session.apply(Start("", BOX))  # box alone completes the waiting sentence, on the next image
    started = session.process(FRAMES[2], 0.0, 5)
    assert started.started and started.state == TrackState.TRACKING and started.confidence == 1.0
    assert started.box_xywh == pytest.approx(BOX) and started.sentence == "the red box"
    tracked = session.process(FRAMES[3], 0.0, 5)
    assert tracked.state == TrackState.TRACKING and not tracked.started and 0.0 <= tracked.confidence <= 1.0

    session.apply(Start("the blue box"))  # re-target: text only, the track goes on
    assert tracker.state is not None and tracker.state.text == "the blue box"
    assert session.process(FRAMES[4], 0.0, 5).sentence == "the blue box"
    assert tracker.state.frame_index == 2

    session.apply(Stop("test"))
    assert session.process(FRAMES[5], 0.0, 5) == FrameResult(TrackState.IDLE, None, 0.0, "", (120, 160))
    assert tracker.state is None

    session.apply(Start("", BOX))  # box alone from idle: language-free
    assert session.process(FRAMES[6], 0.0, 5).sentence == ""


def test_session_starts_on_the_stamped_image_when_held(tracker) -> None:  # noqa: ANN001
    session = TrackingSession(tracker)
    held = {7: FRAMES[0]}
    session.apply(Start("car", BOX, stamp_ns=7), frame_lookup=held.get)
    assert session.state == TrackState.TRACKING  # initialised on the held image already
    first = session.process(FRAMES[3], 0.0, 5)
    assert not first.started and tracker.state.frame_index == 1

    session.apply(Start("car", BOX, stamp_ns=8), frame_lookup=held.get)  # not held: next image
    assert session.process(FRAMES[4], 0.0, 5).started


def test_session_rejects_an_off_image_box_and_keeps_tracking(tracker) -> None:  # noqa: ANN001
    events: list[tuple[str, str]] = []
    session = TrackingSession(tracker, log=lambda level, msg: events.append((level, msg)))
    session.apply(Start("car", BOX))
    session.process(FRAMES[0], 0.0, 5)
    session.apply(Start("other", (500.0, 5.0, 10.0, 10.0)))
    result = session.process(FRAMES[1], 0.0, 5)
    assert result.state == TrackState.TRACKING and result.sentence == "car" and not result.started
    assert events[-1][0] == "warn" and "lies outside the 160x120 image; state stays TRACKING" in events[-1][1]
    from allinone_ros.tracker import InputError

    with pytest.raises(InputError):  # held image: rejected at once, state kept
        session.apply(Start("other", (500.0, 5.0, 10.0, 10.0), stamp_ns=1), frame_lookup={1: FRAMES[0]}.get)
    assert session.state == TrackState.TRACKING and session.sentence == "car"


def test_lost_rule_patience_last_known_box_and_recovery(tracker) -> None:  # noqa: ANN001
    session = TrackingSession(tracker)
    session.apply(Start("car", BOX))
    session.process(FRAMES[0], 1.0, 3)
    states = [session.process(FRAMES[i], 1.0, 3) for i in range(1, 6)]  # every frame < 1.0 is a miss
    assert [r.state for r in states] == [TrackState.TRACKING] * 2 + [TrackState.LOST] * 3
    assert all(r.box_xywh == pytest.approx(BOX) for r in states[2:])  # last confident box: the start box
    assert states[1].box_xywh != pytest.approx(BOX)  # while TRACKING the current estimate is shown
    back = session.process(FRAMES[6], 0.0, 3)  # threshold 0: any confidence counts
    assert back.state == TrackState.TRACKING and back.box_xywh != pytest.approx(BOX)


def test_centre_offset_signs_and_range() -> None:
    assert centre_offset((150.0, 110.0, 20.0, 20.0), 320, 240) == (0.0, 0.0)
    assert centre_offset((300.0, 0.0, 20.0, 20.0), 320, 240) == pytest.approx((0.9375, -0.9166666))
    assert centre_offset((-100.0, 300.0, 10.0, 10.0), 320, 240) == (-1.0, 1.0)  # clipped


def test_track_state_values_equal_the_message_constants() -> None:
    msg = pytest.importorskip("allinone_ros.msg", reason="messages not built (scripts/setup_ros.sh)")
    for state in TrackState:
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
        assert 3 <= len(times) <= 5
        assert min(np.diff(times)) >= 0.19
        assert worker.dropped == 12 - len(times)
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
    result = FrameResult(TrackState.LOST, BOX, 0.12, "the red box " * 10, (120, 160))
    out = annotate(frame, result)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(frame, before) and not np.array_equal(out, frame)
    idle = annotate(frame, replace(result, state=TrackState.IDLE, box_xywh=None, sentence=""))
    assert not np.array_equal(idle, frame)  # the state label is drawn


# --------------------------------------------------------------------------- grounding in the session


def test_session_sentence_alone_grounds_then_tracks_and_stop_returns_to_idle(tracker) -> None:  # noqa: ANN001
    from test_state_machine import ColourGrounder

    events: list[tuple[str, str]] = []
    grounder = ColourGrounder()
    session = TrackingSession(tracker, log=lambda level, msg: events.append((level, msg)), grounder=grounder)
    session.apply(Start("the blue box"))  # nothing blue in view: keeps grounding, no box
    assert session.state == TrackState.GROUNDING and "GROUNDING" in events[-1][1]
    waiting = session.process(FRAMES[0], 0.0, 5)
    assert (waiting.state, waiting.box_xywh, waiting.confidence) == (TrackState.GROUNDING, None, 0.0)

    session.apply(Start("the red box"))
    started = session.process(FRAMES[1], 0.0, 5, ground_threshold=0.3)
    assert started.state == TrackState.TRACKING and started.started
    assert started.box_xywh == pytest.approx(tuple(TRUTH[1]), abs=1.5)  # the grounded red rectangle
    assert "GROUNDING -> TRACKING" in events[-1][1]
    assert session.process(FRAMES[2], 0.0, 5).state == TrackState.TRACKING
    session.apply(Stop("track_command 'stop'"))
    assert session.process(FRAMES[3], 0.0, 5).state == TrackState.IDLE


def test_session_threshold_keeps_grounding_below_it(tracker) -> None:  # noqa: ANN001
    from test_state_machine import ColourGrounder

    session = TrackingSession(tracker, grounder=ColourGrounder())
    session.apply(Start("the red box"))
    result = session.process(FRAMES[0], 0.0, 5, ground_threshold=1.0)  # 600 px blob scores 0.67 < 1
    assert result.state == TrackState.GROUNDING and 0.0 < result.confidence < 1.0


def test_session_regrounds_while_lost_every_k_frames(tracker) -> None:  # noqa: ANN001
    from test_state_machine import ColourGrounder

    events: list[tuple[str, str]] = []
    grounder = ColourGrounder()
    session = TrackingSession(tracker, log=lambda level, msg: events.append((level, msg)), grounder=grounder)
    session.apply(Start("the red box", BOX))
    session.process(FRAMES[0], 1.0, 2)
    calls = []
    for i in range(1, 10):  # threshold 1.0: every frame is a miss; LOST from the 2nd miss on
        session.process(FRAMES[i], 1.0, 2, ground_threshold=0.3, reground_every=3)
        calls.append(grounder.calls)
    # LOST on frame 2; re-grounded on LOST frames 1, 4, 7 (frames 3, 6, 9)
    assert calls == [0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert session.state == TrackState.LOST
    assert sum("re-grounded 'the red box'" in m for _, m in events) == 3
