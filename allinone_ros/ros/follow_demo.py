"""Closed-loop follow demo over real rclpy: simulated drone camera + tracker node + follow controller.

``bash scripts/demo.sh --follow`` (or ``python -m allinone_ros.ros.demo --follow``) starts
``tracker_node`` and ``follow_controller`` as their own processes and runs the ``drone_sim`` node
plus an operator in this process. The operator sends the sentence and the first image's true box
(tied to that image's stamp); the simulated drone then flies on the controller's TwistStamped
commands while the target drives its own path. At the end it prints the fraction of frames with
the target in view, the mean and p95 |offset| (ground truth) and writes to ``--out``:
``follow.mp4`` (truth white, tracker green, command in the corner), ``follow_plot.png``
(offsets, commands and state over time) and ``follow_summary.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from geometry_msgs.msg import TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from allinone_ros.msg import TrackedTarget, TrackRequest

from ..backends.config import BACKENDS, PRECISIONS
from .processes import interrupt, tracker_node_command
from ..data.synthetic import clip_box_to_frame
from .drone_sim_node import DroneSimNode, SimFrame
from ..simulation.report import STATE_NAMES, FollowRow, annotate_follow_frame, follow_summary, write_follow_plot

log = logging.getLogger("allinone-follow-demo")
COMMAND_TOPIC = "/follow_controller/cmd_vel"


class FollowOperator(Node):
    """Sends the start request; collects the tracker's targets and the controller's commands."""

    def __init__(self) -> None:
        super().__init__("allinone_follow_operator")
        self.request_pub = self.create_publisher(TrackRequest, "/track_request", 10)
        self.targets: dict[int, TrackedTarget] = {}  # image stamp (ns) -> message
        self.commands: list[tuple[int, TwistStamped]] = []  # (receive time ns, command)
        self.last_state = -1
        self._lock = threading.Lock()
        self.create_subscription(TrackedTarget, "/tracker_node/target", self._on_target, 50)
        self.create_subscription(TwistStamped, COMMAND_TOPIC, self._on_command, 50)

    def _on_target(self, msg: TrackedTarget) -> None:
        with self._lock:
            self.last_state = msg.state
            self.targets[msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec] = msg

    def _on_command(self, msg: TwistStamped) -> None:
        with self._lock:
            self.commands.append((self.get_clock().now().nanoseconds, msg))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allinone-demo --follow", description=__doc__.splitlines()[0])
    p.add_argument("--follow", action="store_true", help="(selects this demo)")
    p.add_argument("--checkpoint", default="", help="tracker checkpoint (default: the shipped default model)")
    p.add_argument("--out", type=Path, default=Path("out/follow_demo"), help="output directory")
    p.add_argument("--frames", type=int, default=300, help="images to fly for (>= 10)")
    p.add_argument("--seed", type=int, default=0, help="scene seed")
    p.add_argument("--rate", type=float, default=10.0, help="camera rate, Hz")
    p.add_argument("--latency", type=float, default=0.1, help="command latency of the simulated vehicle, s")
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", choices=BACKENDS, default=None)
    p.add_argument("--precision", choices=PRECISIONS, default=None)
    return p


def _start_nodes(args: argparse.Namespace, log_dir: Path) -> list[subprocess.Popen]:
    tracker = tracker_node_command(args.device, args.checkpoint, args.backend, args.precision)
    controller = [sys.executable, "-m", "allinone_ros.ros.follow_controller_node", "--ros-args",
                  "-p", "target_topic:=/tracker_node/target", "-p", f"command_topic:={COMMAND_TOPIC}"]
    procs = []
    for name, cmd in (("tracker_node", tracker), ("follow_controller", controller)):
        log.info(f"[follow-demo] starting {name}: {' '.join(cmd)} (log: {log_dir / (name + '.log')})")
        procs.append(subprocess.Popen(cmd, stdout=(log_dir / f"{name}.log").open("wb"), stderr=subprocess.STDOUT))
    return procs


def _spin_until(executor: SingleThreadedExecutor, cond: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.02)
        if cond():
            return True
    return False


def _start_tracking(executor: SingleThreadedExecutor, sim: DroneSimNode, op: FollowOperator,
                    first: list[SimFrame]) -> bool:
    """Wait for the nodes, then send the sentence + the true box of the (paused) first image."""
    if not _spin_until(executor, lambda: sim.image_pub.get_subscription_count() > 0
                       and op.request_pub.get_subscription_count() > 0
                       and op.count_publishers(COMMAND_TOPIC) > 0, 120.0):
        log.error("[follow-demo] error: the tracker or controller node did not come up within 120 s")
        return False
    _spin_until(executor, lambda: bool(first), 5.0)
    frame0 = first[-1]
    cfg = sim.config
    box = clip_box_to_frame(frame0.truth.box_xywh, cfg.frame_width, cfg.frame_height)
    req = TrackRequest(sentence=sim.scene.sentence, has_box=True)
    req.x, req.y, req.width, req.height = (float(v) for v in box)
    req.stamp.sec, req.stamp.nanosec = divmod(frame0.stamp_ns, 1_000_000_000)
    op.request_pub.publish(req)
    if not _spin_until(executor, lambda: op.last_state == TrackedTarget.STATE_TRACKING, 30.0):
        log.error("[follow-demo] error: the tracker did not start tracking within 30 s")
        return False
    return True


def _rows(records: list[tuple[SimFrame, bytes]], op: FollowOperator) -> list[FollowRow]:
    rows = []
    for rec, _ in records:
        msg = op.targets.get(rec.stamp_ns)
        state = int(msg.state) if msg is not None else -1  # -1: the tracker produced nothing for it
        box = (msg.x, msg.y, msg.width, msg.height) if msg is not None and state == TrackedTarget.STATE_TRACKING \
            else None
        rows.append(FollowRow(
            index=rec.index, t=rec.t, truth_offset_x=rec.truth.offset_x, truth_offset_y=rec.truth.offset_y,
            in_view=rec.truth.in_view, truth_box_xywh=tuple(float(v) for v in rec.truth.box_xywh), state=state,
            box_xywh=box, offset_x=float(msg.offset_x) if msg is not None else 0.0,
            offset_y=float(msg.offset_y) if msg is not None else 0.0,
            latency_ms=float(msg.latency_ms) if msg is not None else float("nan"),
            command=tuple(float(v) for v in rec.command.as_array()),
        ))
    return rows


def _write_outputs(args: argparse.Namespace, rows: list[FollowRow], records: list[tuple[SimFrame, bytes]],
                   op: FollowOperator, start_ns: int, summary: dict[str, Any]) -> None:
    from ..visualize import VideoSink

    args.out.mkdir(parents=True, exist_ok=True)
    sink = VideoSink(args.out / "follow.mp4", fps=args.rate)
    try:
        for row, (_, jpeg) in zip(rows, records):
            frame = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            sink.write(annotate_follow_frame(frame, row))
    finally:
        sink.close()
    commands = [((t - start_ns) * 1e-9, (c.twist.linear.x, c.twist.linear.y, c.twist.linear.z, c.twist.angular.z))
                for t, c in op.commands if t >= start_ns]
    write_follow_plot(args.out / "follow_plot.png", rows, commands, title=f"follow demo, seed {args.seed}")
    (args.out / "follow_summary.json").write_text(json.dumps(summary, indent=1))


def _fly(executor: SingleThreadedExecutor, sim: DroneSimNode, frames: int, procs: list[subprocess.Popen]) -> bool:
    sim.start()
    ok = _spin_until(executor, lambda: sim.index >= frames or any(p.poll() is not None for p in procs),
                     frames * sim.config.period * 3 + 30.0)
    sim.running = False
    sim.destroy_timer(sim.timer)
    _spin_until(executor, lambda: False, 1.0)  # the last results and commands
    return ok and all(p.poll() is None for p in procs)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.frames < 10 or args.rate <= 0 or args.seed < 0:
        parser.error(f"need --frames >= 10, --rate > 0, --seed >= 0; got {args.frames}, {args.rate}, {args.seed}")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(100, 200)))
    args.out.mkdir(parents=True, exist_ok=True)
    procs = _start_nodes(args, args.out)
    rclpy.init()
    records: list[tuple[SimFrame, bytes]] = []
    first: list[SimFrame] = []

    def keep(rec: SimFrame, frame: np.ndarray) -> None:
        if not sim_node.running:
            first.append(rec)
            return
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        records.append((rec, jpeg.tobytes()))

    try:
        params = [Parameter("seed", value=args.seed), Parameter("rate_hz", value=float(args.rate)),
                  Parameter("latency", value=float(args.latency)), Parameter("start_paused", value=True),
                  Parameter("duration", value=args.frames / args.rate + 5.0)]
        sim_node = DroneSimNode(on_frame=keep, parameter_overrides=params)
        op = FollowOperator()
        executor = SingleThreadedExecutor()
        executor.add_node(sim_node)
        executor.add_node(op)
        log.info(f"[follow-demo] scene seed {args.seed}: {sim_node.scene.sentence!r}, {args.frames} frames at "
                 f"{args.rate:g} Hz, command latency {args.latency:g} s")
        if not _start_tracking(executor, sim_node, op, first):
            return 1
        start_ns = sim_node.get_clock().now().nanoseconds
        if not _fly(executor, sim_node, args.frames, procs):
            log.error("[follow-demo] error: a node exited early (logs in %s)", args.out)
            return 1
        rows = _rows(records[:args.frames], op)
        summary = follow_summary(rows, sim_node.commands_applied)
        summary.update(seed=args.seed, rate_hz=args.rate, latency_s=args.latency)
        for row in rows:
            log.info(f"frame {row.index:4d}  state {STATE_NAMES.get(row.state, 'none'):9s}  true offset "
                     f"({row.truth_offset_x:+.2f}, {row.truth_offset_y:+.2f})  command vx {row.command[0]:+.2f} "
                     f"vy {row.command[1]:+.2f} vz {row.command[2]:+.2f} yaw {row.command[3]:+.2f}")
        _write_outputs(args, rows, records[:args.frames], op, start_ns, summary)
        log.info(f"[follow-demo] {summary['frames']} frames: target in view {summary['in_view_fraction']:.1%}, "
                 f"|offset| mean {summary['mean_abs_offset']:.3f}, p95 {summary['p95_abs_offset']:.3f}; tracking "
                 f"{summary['tracking_fraction']:.1%}; commands applied by the simulator: {summary['commands_applied']}")
        log.info(f"[follow-demo] video {args.out / 'follow.mp4'}, plot {args.out / 'follow_plot.png'}, summary "
                 f"{args.out / 'follow_summary.json'}")
        return 0
    finally:
        rclpy.try_shutdown()
        for proc in procs:
            interrupt(proc)


if __name__ == "__main__":
    sys.exit(main())
