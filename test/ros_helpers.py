"""Helpers for tests that run the tracker node as its own process and talk to it over ROS 2.

* :class:`NodeProcess` starts the node (module, launcher script or console script) with its own
  ``ROS_DOMAIN_ID``, captures its log in a file, and always ends it (SIGINT, then SIGKILL).
* :class:`Peer` is the test's side: an rclpy node in the test process spun by a background
  executor, with publishers for images and commands, collectors for the node's outputs, and
  clients for the lifecycle and parameter services.

Tests using these need rclpy and the built messages (``scripts/setup_ros.sh`` then
``source scripts/ros_env.sh``); :func:`require_ros` skips otherwise, or fails when
``ALLINONE_REQUIRE_ROS=1`` (CI).
"""
from __future__ import annotations

import importlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NODE_NAME = "tracker_node"
_used_domains: set[int] = set()


def require_ros() -> None:
    """Skip (or fail under ALLINONE_REQUIRE_ROS=1) unless rclpy and allinone_ros.msg import."""
    for name in ("rclpy", "allinone_ros.msg", "lifecycle_msgs.srv", "diagnostic_msgs.msg"):
        if os.environ.get("ALLINONE_REQUIRE_ROS") == "1":
            importlib.import_module(name)
        else:
            pytest.importorskip(name, reason=f"{name} not importable: run scripts/setup_ros.sh, source scripts/ros_env.sh")


def unique_domain_id() -> int:
    """A random ROS_DOMAIN_ID in 1..200 not yet used by this test session."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    while True:
        domain = rng.randint(1, 200)
        if domain not in _used_domains:
            _used_domains.add(domain)
            return domain


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


# --------------------------------------------------------------------------- the node process


def module_command() -> list[str]:
    return [sys.executable, "-m", "allinone_ros.ros.tracker_node"]


def installed_command() -> list[str]:
    """What ``ros2 run allinone_ros tracker_node`` runs: the ``tracker_node`` console script if it
    is on PATH, else the launcher colcon installed into ``<prefix>/lib/allinone_ros``."""
    script = shutil.which("tracker_node")
    if script:
        return [script]
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        launcher = Path(prefix) / "lib" / "allinone_ros" / "tracker_node"
        if launcher.is_file():
            return [sys.executable, str(launcher)]
    return [sys.executable, str(REPO / "scripts" / "tracker_node")]


def node_environment(domain_id: int, log_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ROS_DOMAIN_ID=str(domain_id),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_LOG_DIR=str(log_dir),
        PYTHONUNBUFFERED="1",
        RCUTILS_LOGGING_BUFFERED_STREAM="0",
        RCUTILS_COLORIZED_OUTPUT="0",
        OMP_NUM_THREADS="1",
    )
    return env


class NodeProcess:
    """The tracker node as a child process; its stdout+stderr go to ``log_path``."""

    def __init__(self, command: list[str], params: dict[str, Any], domain_id: int, workdir: Path,
                 params_file: Path | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "node.log"
        self.argv = command + ["--ros-args"]
        if params_file is not None:
            self.argv += ["--params-file", str(params_file)]
        self.argv += [a for k, v in params.items() for a in ("-p", f"{k}:={_ros_value(v)}")]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(workdir),
            env=node_environment(domain_id, workdir / "ros_log"),
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 20.0, after: int = 0) -> re.Match[str] | None:
        """First match of regex ``pattern`` in the log (from character ``after``), waiting up to ``timeout``."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log_text(), after), timeout, interval=0.05)

    def log_size(self) -> int:
        return len(self.log_text())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGINT, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return int(self.proc.returncode)


def _ros_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    return repr(value)


# --------------------------------------------------------------------------- the test's ROS side


@dataclass
class Received:
    msg: Any
    at: float  # time.monotonic() on arrival


def stamp_of(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


class Peer:
    """An rclpy node in the test process, spun in a background thread."""

    def __init__(self, domain_id: int, node_name: str = NODE_NAME) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.node_name = node_name
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("test_peer", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        self.image_qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        self._publishers: dict[tuple[str, Any], Any] = {}
        self._collected: dict[str, list[Received]] = {}
        self._subs: dict[str, Any] = {}
        self.published_at: dict[int, float] = {}  # image stamp -> time.monotonic() of publishing

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except (ExternalShutdownException, Exception):  # noqa: BLE001 - the thread ends with the context
            pass

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(5.0)

    # -- topics ---------------------------------------------------------------------------------
    def topic(self, private: str) -> str:
        return f"/{self.node_name}/{private}"

    def publisher(self, msg_type: Any, topic: str, qos: Any = 10) -> Any:
        key = (topic, msg_type)
        if key not in self._publishers:
            self._publishers[key] = self.node.create_publisher(msg_type, topic, qos)
        return self._publishers[key]

    def subscribe(self, key: str, msg_type: Any, topic: str, qos: Any = 100) -> None:
        """Collect every message of ``topic`` into ``collected(key)``."""
        with self._lock:
            self._collected.setdefault(key, [])

        def callback(msg: Any) -> None:
            with self._lock:
                self._collected[key].append(Received(msg, time.monotonic()))

        self._subs[key] = self.node.create_subscription(msg_type, topic, callback, qos)

    def unsubscribe(self, key: str) -> None:
        sub = self._subs.pop(key, None)
        if sub is not None:
            self.node.destroy_subscription(sub)

    def collected(self, key: str) -> list[Received]:
        with self._lock:
            return list(self._collected.get(key, []))

    def clear(self, key: str) -> None:
        with self._lock:
            self._collected[key] = []

    def wait_for_subscriber(self, pub: Any, timeout: float = 15.0, count: int = 1) -> bool:
        return bool(wait_until(lambda: pub.get_subscription_count() >= count, timeout))

    def wait_for_publisher(self, topic: str, timeout: float = 15.0, count: int = 1) -> bool:
        return bool(wait_until(lambda: self.node.count_publishers(topic) >= count, timeout))

    # -- images ---------------------------------------------------------------------------------
    def image_msg(self, rgb: np.ndarray, stamp_ns: int, frame_id: str = "camera", encoding: str = "rgb8") -> Any:
        from allinone_ros.ros.image_conversion import rgb_to_image_msg

        msg = rgb_to_image_msg(rgb, encoding)
        msg.header.frame_id = frame_id
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        return msg

    def publish_image(self, topic: str, msg: Any) -> int:
        stamp = stamp_of(msg)
        self.published_at[stamp] = time.monotonic()
        self.publisher(type(msg), topic, self.image_qos).publish(msg)
        return stamp

    def wait_for_stamp(self, key: str, stamp_ns: int, timeout: float = 5.0) -> Any:
        """The collected message of ``key`` whose header stamp is ``stamp_ns`` (None on timeout)."""
        def find() -> Any:
            for item in self.collected(key):
                if stamp_of(item.msg) == stamp_ns:
                    return item.msg
            return None
        return wait_until(find, timeout)

    # -- services -------------------------------------------------------------------------------
    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 20.0) -> Any:
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f"service {name} not available after {timeout} s")
            future = client.call_async(request)
            if not wait_until(future.done, timeout, interval=0.01):
                raise TimeoutError(f"service {name} did not answer within {timeout} s")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def lifecycle_state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return str(self.call(GetState, self.topic("get_state"), GetState.Request()).current_state.label)

    def change_state(self, transition_label: str) -> bool:
        from lifecycle_msgs.srv import ChangeState

        request = ChangeState.Request()
        request.transition.label = transition_label
        return bool(self.call(ChangeState, self.topic("change_state"), request, timeout=60.0).success)

    def set_parameters(self, **values: Any) -> list[Any]:
        """Set parameters one by one; returns the SetParametersResult of each."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg() for name, value in values.items()]
        )
        return list(self.call(SetParameters, self.topic("set_parameters"), request).results)

    def list_parameters(self) -> list[str]:
        from rcl_interfaces.srv import ListParameters

        return list(self.call(ListParameters, self.topic("list_parameters"), ListParameters.Request()).result.names)

    def get_parameters(self, names: list[str]) -> dict[str, Any]:
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python

        response = self.call(GetParameters, self.topic("get_parameters"), GetParameters.Request(names=names))
        return {name: parameter_value_to_python(v) for name, v in zip(names, response.values)}

    def describe_parameters(self, names: list[str]) -> dict[str, Any]:
        from rcl_interfaces.srv import DescribeParameters

        response = self.call(DescribeParameters, self.topic("describe_parameters"), DescribeParameters.Request(names=names))
        return {d.name: d for d in response.descriptors}


def diagnostic_values(status: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


class StampClock:
    """Unique, increasing image stamps (ns) starting at the current wall-clock second."""

    def __init__(self, period_ns: int = 33_333_333) -> None:
        self.next_ns = int(time.time()) * 1_000_000_000
        self.period_ns = period_ns

    def __call__(self) -> int:
        self.next_ns += self.period_ns
        return self.next_ns


# A random-weight network cannot find its target: node tests with one are about the node, not the
# presence rules (test_lifecycle.py), so every image counts as showing the target and any candidate
# re-acquires.
PRESENCE_OFF = {"lost_threshold": 0.0, "appearance_threshold": 0.0, "max_jump": 100.0, "max_scale_change": 100.0,
                "recover_threshold": 0.0, "recover_patience": 1}
