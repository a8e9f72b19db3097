"""Managed bring-up of the tracker node (``autostart:=false``) through the lifecycle services,
start-up failures, compressed input, and (with CUDA) freeing the GPU on deactivate.

The managed node runs through the installed entry point (the ``tracker_node`` console script,
else the launcher colcon installs as ``lib/allinone_ros/tracker_node``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import cv2
import pytest

from builders import moving_target_frames, tiny_checkpoint
from ros_helpers import (
    PRESENCE_OFF, REPO, NodeProcess, Peer, StampClock, diagnostic_values, installed_command, module_command, require_ros, stamp_of,
    unique_domain_id, wait_until,
)

require_ros()

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from sensor_msgs.msg import CompressedImage  # noqa: E402

from allinone_ros.msg import TrackedTarget, TrackRequest  # noqa: E402

IMAGE_TOPIC = "/cam/front"
COMPRESSED_TOPIC = IMAGE_TOPIC + "/compressed"
SIZE = (240, 320)
FRAMES, TRUTH = moving_target_frames(20, size=SIZE)
BOX = tuple(float(v) for v in TRUTH[0])


class Managed:
    def __init__(self, node: NodeProcess, peer: Peer, checkpoint: Path, missing: Path) -> None:
        self.node, self.peer, self.checkpoint, self.missing = node, peer, checkpoint, missing
        self.stamps = StampClock()
        self.count = 0
        self.image_pub = peer.publisher(CompressedImage, COMPRESSED_TOPIC, peer.image_qos)
        self.request_pub = peer.publisher(TrackRequest, "/track_request")
        self.target_topic = peer.topic("target")
        peer.subscribe("target", TrackedTarget, self.target_topic)
        peer.subscribe("diagnostics", DiagnosticArray, "/diagnostics")

    def jpeg(self, stamp_ns: int, data: bytes | None = None) -> CompressedImage:
        frame = FRAMES[self.count % len(FRAMES)]
        self.count += 1
        if data is None:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            assert ok
            data = buf.tobytes()
        msg = CompressedImage(format="jpeg", data=data)
        msg.header.frame_id = "front"
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        return msg

    def publish(self, data: bytes | None = None) -> int:
        return self.peer.publish_image(COMPRESSED_TOPIC, self.jpeg(self.stamps(), data))

    def processed(self, attempts: int = 4) -> Any:
        for _ in range(attempts):
            target = self.peer.wait_for_stamp("target", self.publish(), timeout=1.5)
            if target is not None:
                return target
        raise AssertionError(f"no target; node log:\n{self.node.log_text()[-3000:]}")

    def none_processed(self, n: int = 10) -> bool:
        stamps = []
        for _ in range(n):
            stamps.append(self.publish())
            time.sleep(0.03)
        time.sleep(0.7)
        return not any(self.peer.wait_for_stamp("target", s, timeout=0.0) for s in stamps)

    def latest_diagnostics(self, after: float) -> dict[str, str]:
        item = wait_until(lambda: [r for r in self.peer.collected("diagnostics") if r.at > after], 5)
        assert item, "no diagnostics"
        status = item[-1].msg.status[0]
        return {"level": status.level, **diagnostic_values(status)}

    def ensure_active(self) -> None:
        state = self.peer.lifecycle_state()
        if state == "unconfigured":
            assert self.peer.set_parameters(checkpoint=str(self.checkpoint))[0].successful
            assert self.peer.change_state("configure")
        if self.peer.lifecycle_state() == "inactive":
            assert self.peer.change_state("activate")
        assert self.peer.lifecycle_state() == "active"
        assert self.peer.wait_for_subscriber(self.image_pub)


@pytest.fixture(scope="module")
def managed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Managed]:
    work = tmp_path_factory.mktemp("tracker_node_lifecycle")
    checkpoint = tiny_checkpoint(work / "tiny.safetensors")
    missing = work / "missing.safetensors"
    domain = unique_domain_id()
    params = {"checkpoint": str(missing), "autostart": False, "compressed_input": True, "image_topic": IMAGE_TOPIC,
              "cpu_threads": 1, **PRESENCE_OFF}
    node = NodeProcess(installed_command(), params, domain, work, params_file=REPO / "config" / "tracker.yaml")
    peer = None
    try:
        assert node.wait_for_log(r"autostart is false", timeout=60), node.log_text()
        peer = Peer(domain)
        yield Managed(node, peer, checkpoint, missing)
        assert node.alive(), node.log_text()[-3000:]
    finally:
        if peer is not None:
            peer.close()
        code = node.stop()
    assert code == 0, f"exit code {code}:\n{node.log_text()[-3000:]}"


def test_lifecycle_configure_activate_deactivate_cleanup(managed: Managed) -> None:
    m, peer = managed, managed.peer
    # unconfigured: no outputs, no subscriptions
    assert peer.lifecycle_state() == "unconfigured"
    assert peer.node.count_publishers(m.target_topic) == 0
    assert m.image_pub.get_subscription_count() == 0

    # configure with a missing checkpoint fails with the reason, the node stays unconfigured
    assert not peer.change_state("configure")
    assert m.node.wait_for_log(rf"configure failed: checkpoint '{m.missing}' does not exist", 5)
    assert peer.lifecycle_state() == "unconfigured"

    # configure-time parameters are settable while unconfigured, and still validated
    (bad_device,) = peer.set_parameters(device="gpu")
    assert not bad_device.successful and "device must be one of 'cpu', 'cuda', 'cuda:N'" in bad_device.reason
    (bad_qos,) = peer.set_parameters(qos_reliability="sometimes")
    assert not bad_qos.successful and "must be one of best_effort, reliable" in bad_qos.reason
    (bad_topic,) = peer.set_parameters(image_topic="")
    assert not bad_topic.successful and "image_topic must not be empty" in bad_topic.reason
    (bad_backend,) = peer.set_parameters(backend="fastest")
    assert not bad_backend.successful
    assert "backend must be one of auto, eager, compile, tensorrt, onnxruntime, got 'fastest'" in bad_backend.reason
    assert peer.set_parameters(checkpoint=str(m.checkpoint))[0].successful

    # a backend that cannot run here fails configure with the backend's own reason
    assert peer.set_parameters(backend="tensorrt")[0].successful
    log_at = m.node.log_size()
    assert not peer.change_state("configure")
    assert m.node.wait_for_log(r"configure failed: cannot run backend 'tensorrt' \(fp32, cpu\): backend 'tensorrt' "
                               r"runs on CUDA devices, but device is 'cpu'; use backend 'onnxruntime' or 'eager'", 5, log_at)
    assert peer.lifecycle_state() == "unconfigured"
    assert peer.set_parameters(backend="eager")[0].successful

    # inactive: model loaded, publishers exist, diagnostics say inactive, images are not taken
    assert peer.change_state("configure")
    assert peer.lifecycle_state() == "inactive"
    assert peer.wait_for_publisher(m.target_topic)
    t0 = time.monotonic()
    diag = m.latest_diagnostics(t0)
    assert diag["lifecycle_state"] == "inactive" and diag["level"] == DiagnosticStatus.WARN
    assert diag["input_topic"] == COMPRESSED_TOPIC and diag["backend"] == "eager fp32 (cpu)"
    assert m.image_pub.get_subscription_count() == 0
    assert m.none_processed()
    (refused,) = peer.set_parameters(device="cpu")
    assert not refused.successful and "the node is inactive" in refused.reason

    # active: subscribed, one target per image, commands work
    assert peer.change_state("activate")
    assert peer.lifecycle_state() == "active"
    assert peer.wait_for_subscriber(m.image_pub)
    idle = m.processed()
    assert idle.state == TrackedTarget.STATE_IDLE and (idle.image_width, idle.image_height) == (SIZE[1], SIZE[0])
    assert idle.header.frame_id == "front"
    assert peer.wait_for_subscriber(m.request_pub)
    m.request_pub.publish(TrackRequest(sentence="the red box", has_box=True, x=BOX[0], y=BOX[1], width=BOX[2],
                                       height=BOX[3], stamp=Time()))
    assert wait_until(lambda: m.processed().state == TrackedTarget.STATE_TRACKING, 6)
    diag = m.latest_diagnostics(time.monotonic())
    assert diag["lifecycle_state"] == "active" and diag["state"] == "TRACKING"

    # deactivate: unsubscribed, nothing processed, the track ended
    assert peer.change_state("deactivate")
    assert peer.lifecycle_state() == "inactive"
    assert m.node.wait_for_log(r"inactive: unsubscribed, track ended, model off the device", 5)
    assert wait_until(lambda: m.image_pub.get_subscription_count() == 0, 5)
    assert m.none_processed()
    assert m.latest_diagnostics(time.monotonic())["state"] == "IDLE"

    # activate again: back to idle targets (the track did not survive deactivate)
    assert peer.change_state("activate")
    assert peer.wait_for_subscriber(m.image_pub)
    assert m.processed().state == TrackedTarget.STATE_IDLE

    # cleanup: publishers gone, configure-time parameters settable again
    assert peer.change_state("deactivate") and peer.change_state("cleanup")
    assert peer.lifecycle_state() == "unconfigured"
    assert wait_until(lambda: peer.node.count_publishers(m.target_topic) == 0, 5)
    assert peer.set_parameters(device="cpu")[0].successful
    assert not peer.change_state("activate"), "activate must not be possible from unconfigured"


def test_compressed_input_bad_data_then_valid_frame_and_stamped_request(managed: Managed) -> None:
    m = managed
    m.ensure_active()
    m.processed()
    log_at = m.node.log_size()
    m.publish(data=b"\x00garbage, not a jpeg" * 10)
    assert m.node.wait_for_log(r"skipped: could not decode CompressedImage: format 'jpeg', 200 bytes", 5, log_at)
    first = m.processed()
    assert first.state == TrackedTarget.STATE_IDLE

    # a box drawn on an image the node still holds starts on that image
    held = stamp_of(first)
    m.request_pub.publish(TrackRequest(sentence="", has_box=True, x=BOX[0], y=BOX[1], width=BOX[2], height=BOX[3],
                                       stamp=Time(sec=held // 1_000_000_000, nanosec=held % 1_000_000_000)))
    assert m.node.wait_for_log(rf"tracking started on the image stamped {held / 1e9:.9f}", 5, log_at)
    assert m.processed().state == TrackedTarget.STATE_TRACKING


# --------------------------------------------------------------------------- start-up failures


def test_invalid_values_with_autostart_exit_1_naming_every_problem(tmp_path: Path) -> None:
    params = {"checkpoint": str(tmp_path / "nope.pth"), "device": "gpu", "qos_reliability": "sometimes",
              "image_topic": "bad topic!", "cpu_threads": 1}
    node = NodeProcess(module_command(), params, unique_domain_id(), tmp_path)
    try:
        code = node.wait_exit(90)
    finally:
        node.stop()
    log = node.log_text()
    assert code == 1, log
    for reason in (f"configure failed: checkpoint '{tmp_path / 'nope.pth'}' does not exist",
                   "configure failed: device must be one of 'cpu', 'cuda', 'cuda:N', got 'gpu'",
                   "configure failed: qos_reliability must be one of best_effort, reliable, got 'sometimes'",
                   "configure failed: image_topic 'bad topic!' is not a valid topic name",
                   "autostart: configure failed (reasons above); exiting"):
        assert reason in log, reason


def test_out_of_range_or_mistyped_start_parameters_exit_1_with_reasons(tmp_path: Path) -> None:
    params = {"lost_threshold": 2.0, "lost_patience": 0, "max_rate_hz": 5}  # 5 is an integer: needs 5.0
    node = NodeProcess(module_command(), params, unique_domain_id(), tmp_path)
    try:
        code = node.wait_exit(90)
    finally:
        node.stop()
    log = node.log_text()
    assert code == 1, log
    assert "invalid parameter at start-up: parameter lost_threshold:" in log and "out of range" in log
    assert "invalid parameter at start-up: parameter lost_patience:" in log
    assert "invalid parameter at start-up: parameter max_rate_hz:" in log
    assert "(write a decimal point, e.g. max_rate_hz:=1.0)" in log


# --------------------------------------------------------------------------- GPU


def test_deactivate_frees_gpu_memory_and_tracks_on_cuda(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from allinone_ros.ros.image_conversion import rgb_to_image_msg
    from allinone_ros.ros.tracker_node import TrackerNode

    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=unique_domain_id())
    node = TrackerNode(context=context, parameter_overrides=[
        Parameter("checkpoint", value=str(checkpoint)), Parameter("device", value="cuda"),
        Parameter("autostart", value=False), Parameter("image_topic", value="/gpu/image"),
    ])
    peer = rclpy.create_node("gpu_peer", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(peer)
    targets: list[Any] = []
    peer.create_subscription(TrackedTarget, "/tracker_node/target", targets.append, 10)
    image_pub = peer.create_publisher(Image, "/gpu/image", 10)
    request_pub = peer.create_publisher(TrackRequest, "/track_request", 10)
    try:
        torch.cuda.synchronize()
        baseline = torch.cuda.memory_allocated()
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert torch.cuda.memory_allocated() == baseline, "configure must keep the model in CPU memory"
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        on_gpu = torch.cuda.memory_allocated()
        assert on_gpu > baseline

        def spin_until(pred: Any, timeout: float = 10.0) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
                if pred():
                    return True
            return False

        assert spin_until(lambda: image_pub.get_subscription_count() > 0 and request_pub.get_subscription_count() > 0)
        request_pub.publish(TrackRequest(has_box=True, x=BOX[0], y=BOX[1], width=BOX[2], height=BOX[3]))
        for i in range(1, 8):
            msg = rgb_to_image_msg(FRAMES[i], "rgb8")
            msg.header.stamp.sec = i
            image_pub.publish(msg)
            spin_until(lambda: any(t.header.stamp.sec == i for t in targets), 3.0)
        states = [t.state for t in targets]
        assert TrackedTarget.STATE_TRACKING in states, states

        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        torch.cuda.synchronize()
        assert torch.cuda.memory_allocated() == baseline, "deactivate must free the GPU"
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert torch.cuda.memory_allocated() > baseline
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert torch.cuda.memory_allocated() == baseline
    finally:
        node.shutdown_processing()
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
        rclpy.try_shutdown(context=context)
