#!/usr/bin/env python3
"""Do camera-sized frames reach the tracker node? Frames answered / dropped per size and rate.

For every (size, rate): starts the tracker node as its own process with its default parameters
(``python -m allinone_ros.ros.tracker_node``, autostart, shipped model, CPU), publishes bgr8
``sensor_msgs/Image`` frames from this process on ``/camera/image_raw`` with the sensor-data QoS
(best effort, keep last 5) at the given rate, after one ``track_request`` with the target's box
(so the model runs on every processed frame), and counts:

* answered: frames whose ``TrackedTarget`` (matched by stamp) came back;
* dropped: ``frames_dropped`` of the node's /diagnostics (newest-frame policy: received, replaced
  before processing);
* missing: ``frames_missing_estimated`` (camera frames that never reached the node, from gaps in
  the image stamps);
* unaccounted: published - answered - dropped - missing (lost without any counter seeing it,
  e.g. the last frames of the stream).

Both processes get ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a fresh ``ROS_DOMAIN_ID``;
``--profile`` (default: config/fastdds_large_frames.xml, ``none`` for Fast DDS' defaults) is
set as ``FASTDDS_DEFAULT_PROFILES_FILE`` in both.

    source scripts/ros_env.sh
    python scripts/bench_transport.py --output bench_results/transport.json
    python scripts/bench_transport.py --profile none --output bench_results/transport_default.json
    RMW_FASTRTPS_PUBLICATION_MODE=AUTO python scripts/bench_transport.py \
        --profile config/fastdds_large_frames_udp.xml --output bench_results/transport_udp.json

Prints one line per run and writes the numbers, the settings and the machine as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PROFILE = REPO / "config" / "fastdds_large_frames.xml"
TOPIC = "/camera/image_raw"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", type=Path, default=Path("bench_results/transport.json"))
    p.add_argument("--profile", default=str(DEFAULT_PROFILE),
                   help="Fast DDS XML profile for both processes, or 'none' (default: %(default)s)")
    p.add_argument("--camera-profile", default=None,
                   help="profile of the publishing (camera) process when it differs from --profile, or 'none'")
    p.add_argument("--sizes", default="640x480,1280x720", help="WxH list (default: %(default)s)")
    p.add_argument("--rates", default="10,30", help="publishing rates in Hz (default: %(default)s)")
    p.add_argument("--frames", type=int, default=100, help="frames per run (default: %(default)s)")
    p.add_argument("--node-arg", action="append", default=[], metavar="NAME:=VALUE",
                   help="extra node parameter (default: none, the node's defaults)")
    p.add_argument("--startup-timeout", type=float, default=180.0)
    return p.parse_args()


def transport_env(profile: str, domain: int) -> dict[str, str]:
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": str(domain)}
    if profile != "none":
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(Path(profile).resolve())
    return env


def scene(w: int, h: int, i: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A textured bgr8 frame with a red box moving right; the box (x, y, w, h)."""
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(30, 120, (h, w, 3), dtype=np.uint8), (5, 5), 0)
    bw, bh = w / 10, h / 10
    x, y = w / 4 + 2.0 * (i % 100), h / 3
    cv2.rectangle(frame, (int(x), int(y)), (int(x + bw), int(y + bh)), (30, 30, 220), -1)
    return frame, (x, y, bw, bh)


class Node:
    def __init__(self, env: dict[str, str], args: list[str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        params = [a for kv in args for a in ("-p", kv)]
        self.proc = subprocess.Popen([sys.executable, "-m", "allinone_ros.ros.tracker_node", "--ros-args", *params],
                                     stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                                     cwd=str(REPO))

    def wait_active(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "]: active:" in self.log_path.read_text(errors="replace"):
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class Client:
    """This process's rclpy side: image publisher (sensor-data QoS), request publisher, collectors."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from allinone_ros.msg import TrackedTarget, TrackRequest

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("bench_camera", context=self.context)
        self.image_pub = self.node.create_publisher(Image, TOPIC, qos_profile_sensor_data)
        self.request_pub = self.node.create_publisher(TrackRequest, "/track_request", 10)
        self.lock = threading.Lock()
        self.answered: set[int] = set()
        self.diagnostics: list[tuple[int, dict[str, str]]] = []
        self.node.create_subscription(TrackedTarget, "/tracker_node/target", self._on_target, 1000)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - ends with the context
            pass

    def _on_target(self, msg: Any) -> None:
        with self.lock:
            self.answered.add(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)

    def _on_diag(self, msg: Any) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.lock:
            self.diagnostics.append((stamp, {kv.key: kv.value for kv in msg.status[0].values}))

    def diagnostics_after(self, t_ns: int, timeout: float = 5.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                fresh = [d for s, d in self.diagnostics if s > t_ns]
            if fresh:
                return fresh[0]
            time.sleep(0.05)
        return {}

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def publish_run(client: Client, w: int, h: int, rate: float, frames: int) -> list[int]:
    from allinone_ros.msg import TrackRequest
    from allinone_ros.ros.image_conversion import rgb_to_image_msg

    first, box = scene(w, h, 0)
    request = TrackRequest(sentence="", has_box=True)
    request.x, request.y, request.width, request.height = (float(v) for v in box)
    client.request_pub.publish(request)  # stamp 0: applied to the next image
    time.sleep(0.5)
    messages = []
    for i in range(frames):  # built before timing: publishing must keep the rate
        frame = first if i == 0 else scene(w, h, i)[0]
        msg = rgb_to_image_msg(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), "bgr8")
        msg.header.frame_id = "camera"
        messages.append(msg)
    stamps = []
    period = 1.0 / rate
    start = time.monotonic()
    base_ns = time.time_ns()
    for i, msg in enumerate(messages):
        stamp = base_ns + int(i * period * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        client.image_pub.publish(msg)
        stamps.append(stamp)
        time.sleep(max(0.0, start + (i + 1) * period - time.monotonic()))
    return stamps


def run_one(args: argparse.Namespace, w: int, h: int, rate: float, workdir: Path) -> dict[str, Any]:
    domain = random.randint(1, 200)
    env = transport_env(args.profile, domain)
    camera_profile = args.profile if args.camera_profile is None else args.camera_profile
    os.environ.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
    os.environ.update(transport_env(camera_profile, domain))  # this process's participant reads them when created
    node = Node(env, args.node_arg, workdir / f"node_{w}x{h}_{rate:g}hz.log")
    client = None
    try:
        if not node.wait_active(args.startup_timeout):
            raise RuntimeError(f"node did not become active; log {node.log_path}")
        client = Client(domain)
        deadline = time.monotonic() + 20
        while client.image_pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        stamps = publish_run(client, w, h, rate, args.frames)
        time.sleep(2.0)  # let the last frames be processed
        diag = client.diagnostics_after(time.time_ns())
        with client.lock:
            answered = len(client.answered & set(stamps))
    finally:
        if client is not None:
            client.close()
        node.stop()
    dropped = int(diag.get("frames_dropped", "0"))
    missing = int(diag.get("frames_missing_estimated", "0"))
    n = len(stamps)
    return {
        "size": f"{w}x{h}", "rate_hz": rate, "published": n, "answered": answered,
        "received": int(diag.get("frames_received", "0")), "dropped": dropped, "missing_estimated": missing,
        "unaccounted": n - answered - dropped - missing, "answered_pct": 100.0 * answered / n,
        "answered_plus_counted_pct": 100.0 * min(n, answered + dropped + missing) / n,
        "latency_p50_ms": float(diag.get("latency_p50_ms", "nan")), "bytes_per_frame": w * h * 3,
    }


def main() -> int:
    args = parse_args()
    if args.profile != "none" and not Path(args.profile).is_file():
        raise SystemExit(f"--profile {args.profile} does not exist")
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rates = [float(r) for r in args.rates.split(",")]
    workdir = args.output.parent / "transport_logs"
    workdir.mkdir(parents=True, exist_ok=True)
    runs = []
    for w, h in sizes:
        for rate in rates:
            result = run_one(args, w, h, rate, workdir)
            runs.append(result)
            print(f"{result['size']:>9} {rate:>4g} Hz: answered {result['answered']}/{result['published']} "
                  f"({result['answered_pct']:.0f}%), dropped {result['dropped']}, missing {result['missing_estimated']}, "
                  f"unaccounted {result['unaccounted']} -> answered+counted {result['answered_plus_counted_pct']:.0f}%"
                  f", node latency p50 {result['latency_p50_ms']:.1f} ms", flush=True)
    report = {
        "what": "frames answered by the tracker node (default parameters) from a separate best-effort publisher "
                "(sensor-data QoS), see scripts/bench_transport.py",
        "profile": args.profile if args.profile == "none" else str(Path(args.profile).resolve().relative_to(REPO))
        if Path(args.profile).resolve().is_relative_to(REPO) else args.profile,
        "camera_profile": args.camera_profile or "same as profile", "discovery_range": "LOCALHOST",
        "RMW_FASTRTPS_PUBLICATION_MODE": os.environ.get("RMW_FASTRTPS_PUBLICATION_MODE", "(unset)"), "frames_per_run": args.frames, "node_args": args.node_arg,
        "net.core.rmem_max": Path("/proc/sys/net/core/rmem_max").read_text().strip()
        if Path("/proc/sys/net/core/rmem_max").exists() else "",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "load_avg_1min_at_end": os.getloadavg()[0], "python": platform.python_version()},
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
