"""The ``follow_controller`` node over real rclpy: TrackedTarget in, TwistStamped out.

The node runs as its own process; the test publishes ``TrackedTarget`` messages stamped with
the current time (as the tracker stamps them with its camera images) and reads the commands.
"""
from __future__ import annotations

import math
import time
from typing import Iterator

import pytest

from ros_helpers import NodeProcess, Peer, diagnostic_values, require_ros, unique_domain_id, wait_until

require_ros()

import sys  # noqa: E402

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import TwistStamped  # noqa: E402

from allinone_ros.msg import TrackedTarget  # noqa: E402

NODE = "follow_controller"
TARGET_TOPIC = "/tracker_node/target"
COMMAND_TOPIC = f"/{NODE}/cmd_vel"
COMMAND = [sys.executable, "-m", "allinone_ros.ros.follow_controller_node"]


class Harness:
    def __init__(self, node: NodeProcess, peer: Peer) -> None:
        self.node, self.peer = node, peer
        self.pub = peer.publisher(TrackedTarget, TARGET_TOPIC)
        peer.subscribe("cmd", TwistStamped, COMMAND_TOPIC)
        peer.subscribe("diagnostics", DiagnosticArray, "/diagnostics")

    def target(self, state: int, cx: float = 320.0, cy: float = 180.0, age_s: float = 0.0) -> TrackedTarget:
        msg = TrackedTarget(state=state, image_width=640, image_height=360)
        stamp_ns = time.time_ns() - int(age_s * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.header.frame_id = "uav_camera"
        if state == TrackedTarget.STATE_TRACKING:
            msg.x, msg.y, msg.width, msg.height = cx - 20.0, cy - 20.0, 40.0, 40.0
            msg.offset_x, msg.offset_y = (cx - 320.0) / 320.0, (cy - 180.0) / 180.0
            msg.confidence = 0.9
        return msg

    def send_and_next_command(self, msg: TrackedTarget) -> TwistStamped:
        """Publish ``msg`` and return the first command computed after it arrived."""
        self.peer.clear("cmd")
        sent = time.time_ns()
        self.pub.publish(msg)

        def after() -> TwistStamped | None:
            for item in self.peer.collected("cmd"):
                s = item.msg.header.stamp
                if s.sec * 1_000_000_000 + s.nanosec >= sent:
                    return item.msg
            return None

        cmd = wait_until(after, 5.0)
        assert cmd is not None, self.node.log_text()[-2000:]
        return cmd

    def follow(self, cx: float, cy: float, seconds: float = 1.0) -> TwistStamped:
        cmd = None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            cmd = self.send_and_next_command(self.target(TrackedTarget.STATE_TRACKING, cx, cy))
            time.sleep(0.05)
        return cmd


@pytest.fixture(scope="module")
def h(tmp_path_factory) -> Iterator[Harness]:
    domain = unique_domain_id()
    # publish_rate_hz 1: a timer command (from the previous target) comes at the earliest 0.9 s after
    # the last one, so the command after a test's message is the one computed from it.
    node = NodeProcess(COMMAND, {"frame_id": "uav_body", "max_age": 0.5, "search_after": -1.0,
                                 "publish_rate_hz": 1.0}, domain, tmp_path_factory.mktemp("follow"))
    peer = Peer(domain, node_name=NODE)
    harness = Harness(node, peer)
    try:
        assert node.wait_for_log(r"active: following", 30.0), node.log_text()
        assert peer.wait_for_subscriber(harness.pub), node.log_text()
        yield harness
    finally:
        peer.close()
        node.stop()


def _is_zero(cmd: TwistStamped) -> bool:
    t = cmd.twist
    return (t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z) == (0.0,) * 6


def test_tracking_target_right_and_ahead_moves_right_and_forward(h: Harness) -> None:
    cmd = h.follow(560.0, 60.0)  # right of centre and above it (ahead, for the nadir camera)
    assert cmd.header.frame_id == "uav_body"
    assert cmd.twist.linear.y < 0 and cmd.twist.linear.x > 0  # REP-103: right = -y, forward = +x
    assert cmd.twist.linear.z == 0.0 and cmd.twist.angular.z == 0.0
    assert math.hypot(cmd.twist.linear.x, cmd.twist.linear.y) <= 10.0 + 1e-9  # max_speed_xy default


def test_lost_gives_zero_at_the_next_command(h: Harness) -> None:
    assert not _is_zero(h.follow(560.0, 60.0, 0.5))
    cmd = h.send_and_next_command(h.target(TrackedTarget.STATE_LOST))
    assert _is_zero(cmd)


@pytest.mark.parametrize("state", [TrackedTarget.STATE_IDLE, TrackedTarget.STATE_WAITING_FOR_BOX,
                                   TrackedTarget.STATE_GROUNDING])
def test_other_states_give_zero(h: Harness, state: int) -> None:
    assert not _is_zero(h.follow(100.0, 300.0, 0.5))
    assert _is_zero(h.send_and_next_command(h.target(state)))


def test_message_older_than_max_age_gives_zero_and_silence_gives_a_zero_stream(h: Harness) -> None:
    assert not _is_zero(h.follow(560.0, 60.0, 0.5))
    old = h.target(TrackedTarget.STATE_TRACKING, 560.0, 60.0, age_s=0.6)
    assert _is_zero(h.send_and_next_command(old))
    h.follow(560.0, 60.0, 0.5)
    h.peer.clear("cmd")
    time.sleep(3.0)  # no target for 3 s: the 1 Hz timer keeps publishing, zeros (max_age passed)
    stream = h.peer.collected("cmd")
    assert len(stream) >= 2 and all(_is_zero(item.msg) for item in stream)


def test_non_finite_target_is_refused_with_a_warning_and_holds(h: Harness) -> None:
    assert not _is_zero(h.follow(560.0, 60.0, 0.5))
    bad = h.target(TrackedTarget.STATE_TRACKING, 560.0, 60.0)
    bad.width = float("nan")
    assert _is_zero(h.send_and_next_command(bad))
    assert h.node.wait_for_log(r"message ignored: target observation refused: box_xywh .*nan", 5.0)
    assert h.node.alive()
    assert not _is_zero(h.follow(560.0, 60.0, 0.5))  # the next good message is used again


def test_parameters_are_validated_and_live_gains_apply(h: Harness) -> None:
    results = h.peer.set_parameters(camera="sideways")
    assert not results[0].successful and "camera must be one of down, forward" in results[0].reason
    results = h.peer.set_parameters(max_speed_xy=-1.0)
    assert not results[0].successful
    results = h.peer.set_parameters(target_topic="/other")
    assert not results[0].successful and "configure transition" in results[0].reason
    assert h.peer.set_parameters(max_speed_xy=0.5)[0].successful
    cmd = h.follow(620.0, 10.0, 1.0)
    assert math.hypot(cmd.twist.linear.x, cmd.twist.linear.y) == pytest.approx(0.5, abs=1e-6)
    assert h.peer.set_parameters(max_speed_xy=10.0)[0].successful


def test_diagnostics_report_mode_and_counts(h: Harness) -> None:
    h.follow(560.0, 60.0, 0.3)
    h.peer.clear("diagnostics")
    status = wait_until(lambda: next((s for item in h.peer.collected("diagnostics") for s in item.msg.status
                                      if s.name.startswith(f"{NODE}:")), None), 5.0)
    assert status is not None
    values = diagnostic_values(status)
    assert values["lifecycle_state"] == "active" and int(values["targets"]) > 0 and int(values["commands"]) > 0
    assert values["mode"] in ("track", "stale")


def test_invalid_start_parameter_exits_with_the_reason(tmp_path) -> None:
    node = NodeProcess(COMMAND, {"search_yaw_rate": 0.9, "max_yaw_rate": 0.5}, unique_domain_id(), tmp_path)
    try:
        assert node.wait_exit(30.0) == 1
        assert "search_yaw_rate 0.9 exceeds max_yaw_rate 0.5" in node.log_text()
    finally:
        node.stop()


def test_controller_states_are_the_message_constants() -> None:
    from allinone_ros.lifecycle.states import TargetState

    assert {s.name: int(s) for s in TargetState} == {
        name[len("STATE_"):]: getattr(TrackedTarget, name) for name in dir(TrackedTarget) if name.startswith("STATE_")
    }


def test_launcher_script_starts_the_node_unconfigured(tmp_path) -> None:
    from ros_helpers import REPO

    node = NodeProcess([sys.executable, str(REPO / "scripts" / "follow_controller")], {"autostart": False},
                       unique_domain_id(), tmp_path)
    try:
        assert node.wait_for_log(r"autostart is false: waiting for a lifecycle manager", 30.0), node.log_text()
    finally:
        assert node.stop() == 0


def test_config_yaml_lists_every_parameter_with_its_default() -> None:
    from ros_helpers import REPO

    from allinone_ros.ros.follow_params import FOLLOW_PARAMETERS
    from allinone_ros.ros.node_config import yaml_parameters

    assert yaml_parameters(REPO / "config" / "follow_controller.yaml", NODE) == {
        spec.name: spec.default for spec in FOLLOW_PARAMETERS}


def test_node_reads_the_config_yaml(tmp_path) -> None:
    from ros_helpers import REPO

    domain = unique_domain_id()
    node = NodeProcess(COMMAND, {"max_speed_xy": 3.0}, domain, tmp_path,
                       params_file=REPO / "config" / "follow_controller.yaml")
    peer = Peer(domain, node_name=NODE)
    try:
        assert node.wait_for_log(r"active: following", 30.0), node.log_text()
        assert peer.get_parameters(["max_speed_xy", "kp_x", "camera"]) == {"max_speed_xy": 3.0, "kp_x": 40.0,
                                                                           "camera": "down"}
    finally:
        peer.close()
        node.stop()


def test_the_node_module_loads_no_torch() -> None:
    """The controller runs on a flight computer without the tracker: its module must not pull torch in
    (it shares the target states and the parameter specs with the tracker's torch-free modules)."""
    import subprocess

    code = ("import sys, allinone_ros.ros.follow_controller_node\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
