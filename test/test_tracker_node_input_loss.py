"""Input loss made visible: a camera that skips every second frame shows up in /diagnostics with a WARN.

The node runs as its own process (tiny random-weight checkpoint, CPU); the test publishes real
sensor_msgs/Image messages (reliable QoS, so the transport itself loses nothing here) whose stamps
follow a 20 Hz camera, first complete, then with every second frame left out.
"""
from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from builders import moving_target_frames, tiny_checkpoint
from ros_helpers import NodeProcess, Peer, diagnostic_values, module_command, require_ros, stamp_of, unique_domain_id

require_ros()

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

TOPIC = "/camera/image_raw"
RATE_HZ = 20.0
PERIOD_NS = int(1e9 / RATE_HZ)
FRAMES, _ = moving_target_frames(4, size=(120, 160))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Peer]]:
    work = tmp_path_factory.mktemp("input_loss")
    domain = unique_domain_id()
    node = NodeProcess(module_command(), {"checkpoint": str(tiny_checkpoint(work / "tiny.safetensors")),
                                          "grounder": "none", "cpu_threads": 1, "camera_rate_hz": RATE_HZ,
                                          "input_loss_warn": 0.2}, domain, work)
    peer = None
    try:
        assert node.wait_for_log(r"\]: active:", timeout=60), f"node did not become active:\n{node.log_text()}"
        peer = Peer(domain)
        peer.subscribe("diagnostics", DiagnosticArray, "/diagnostics")
        assert peer.wait_for_subscriber(peer.publisher(Image, TOPIC, peer.image_qos)), "the node never subscribed"
        yield node, peer
        assert node.alive(), f"the node died:\n{node.log_text()[-3000:]}"
    finally:
        if peer is not None:
            peer.close()
        code = node.stop()
    assert code == 0, f"node exit code {code}:\n{node.log_text()[-3000:]}"


START_NS = int(time.time()) * 1_000_000_000


def stream(peer: Peer, first_index: int, count: int, step: int) -> int:
    """Publish camera frames first_index, first_index + step, ... (count of them) at the camera's pace."""
    index = first_index
    for _ in range(count):
        peer.publish_image(TOPIC, peer.image_msg(FRAMES[index % len(FRAMES)], START_NS + index * PERIOD_NS))
        index += step
        time.sleep(step / RATE_HZ)
    return index


def counters(status: Any) -> dict[str, int]:
    values = diagnostic_values(status)
    return {k: int(values[k]) for k in ("frames_received", "frames_missing_estimated", "stream_pauses")}


def diagnostics_after(peer: Peer, t0_ns: int, timeout: float = 5.0) -> Any:
    """The first tracker DiagnosticStatus stamped after ``t0_ns``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in peer.collected("diagnostics"):
            if stamp_of(item.msg) > t0_ns:
                return item.msg.status[0]
        time.sleep(0.05)
    raise AssertionError("no diagnostics from the node")


def test_skipping_every_second_frame_is_estimated_and_warned(running: tuple[NodeProcess, Peer]) -> None:
    node, peer = running
    index = 0
    for _ in range(30):  # until the node gets frames (discovery may finish after the publisher saw the node)
        index = stream(peer, index, 10, step=1)
        if counters(diagnostics_after(peer, time.time_ns()))["frames_received"] >= 5:
            break
    base = counters(diagnostics_after(peer, time.time_ns()))
    assert base["frames_received"] >= 5, node.log_text()[-2000:]

    # After a pause (100 frames: not loss), a complete stream: frames the node did not get are
    # estimated missing, so received + missing spans the 40 camera frames (up to frames lost at the end).
    index = stream(peer, index + 100, 40, step=1)
    status = diagnostics_after(peer, time.time_ns())
    values, after_complete = diagnostic_values(status), counters(status)
    assert values["camera_period_from"] == "camera_rate_hz" and values["camera_period_ms"] == "50.00"
    delta = {k: after_complete[k] - base[k] for k in base}
    assert 37 <= delta["frames_received"] + delta["frames_missing_estimated"] <= 40, values
    assert delta["stream_pauses"] == 1, values

    # Another pause, then 60 frames with every second one left out: 119 camera frames.
    log_offset = node.log_size()
    stream(peer, index + 100, 60, step=2)
    status = diagnostics_after(peer, time.time_ns())
    values = diagnostic_values(status)
    delta = {k: v - after_complete[k] for k, v in counters(status).items()}
    received, missing = delta["frames_received"], delta["frames_missing_estimated"]
    assert received <= 60 and missing >= 59 - 2, values  # each left-out frame is counted
    assert 119 - 4 <= received + missing <= 119, values
    assert float(values["input_loss_recent"]) > 0.2, values  # the window still holds some complete-stream intervals
    assert delta["stream_pauses"] == 1, values
    assert status.level == DiagnosticStatus.WARN, status.message
    assert status.message.startswith("input loss "), status.message
    assert "camera frames never arrived" in status.message and "camera period 50.0 ms" in status.message
    assert node.wait_for_log(r"WARN.*input loss \d+%: about \d+ of the last", timeout=5, after=log_offset), \
        node.log_text()[log_offset:][-2000:]
