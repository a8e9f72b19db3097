"""End-to-end demo: the tracker node against a synthetic UAV camera and an operator.

Starts ``tracker_node`` as its own process (the shipped default model unless ``--checkpoint`` is
given), publishes a generated synthetic UAV sequence as a camera stream, sends the operator's
start request (sentence + initial box tied to the first frame's stamp; with ``--sentence-only``
the sentence alone, which the node grounds), and scores every
``TrackedTarget`` against the ground truth. Prints per-frame latency and IoU, a summary, and
writes an annotated video (ground truth white, tracker green).
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from allinone_ros.msg import TrackedTarget, TrackRequest

from ..backends.config import BACKENDS, PRECISIONS
from ..data.synthetic import SyntheticConfig, plan_sequence
from ..evaluation.metrics import iou_xywh, success_auc
from ..visualize import VideoSink, draw_box
from .image_conversion import rgb_to_image_msg
from .processes import interrupt, tracker_node_command

log = logging.getLogger("allinone-demo")

STATE_NAMES = {TrackedTarget.STATE_IDLE: "idle", TrackedTarget.STATE_WAITING_FOR_BOX: "waiting",
               TrackedTarget.STATE_TRACKING: "tracking", TrackedTarget.STATE_LOST: "lost",
               TrackedTarget.STATE_GROUNDING: "grounding"}


@dataclass
class FrameRecord:
    index: int
    box_xywh: np.ndarray
    state: int
    confidence: float
    latency_ms: float


class DemoOperator(Node):
    """Camera publisher + operator + scorer in one test-side node."""

    def __init__(self, node_name: str) -> None:
        super().__init__("allinone_demo_operator")
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, "/camera/image_raw", qos)
        self.request_pub = self.create_publisher(TrackRequest, "/track_request", 10)
        self.command_pub = self.create_publisher(String, "/track_command", 10)
        self.records: dict[int, FrameRecord] = {}
        self.stamp_to_index: dict[tuple[int, int], int] = {}
        self.last_state = -1
        self._lock = threading.Lock()
        self.create_subscription(TrackedTarget, f"/{node_name}/target", self._on_target, 50)

    def _on_target(self, msg: TrackedTarget) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with self._lock:
            self.last_state = msg.state
            index = self.stamp_to_index.get(key)
            if index is not None:
                box = np.array([msg.x, msg.y, msg.width, msg.height], dtype=np.float64)
                self.records[index] = FrameRecord(index, box, msg.state, msg.confidence, msg.latency_ms)

    def publish_frame(self, index: int, frame: np.ndarray) -> tuple[int, int]:
        now = self.get_clock().now().to_msg()
        msg = rgb_to_image_msg(frame, "rgb8", None)
        msg.header.stamp = now
        msg.header.frame_id = "uav_camera"
        with self._lock:
            self.stamp_to_index[(now.sec, now.nanosec)] = index
        self.image_pub.publish(msg)
        return now.sec, now.nanosec


def _spin_until(node: Node, cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if cond():
            return True
    return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allinone-demo", description=__doc__.splitlines()[0],
                                epilog="--follow runs the closed-loop follow demo instead (tracker + follow "
                                       "controller + simulated drone camera); see allinone-demo --follow --help")
    p.add_argument("--checkpoint", default="", help="model checkpoint (default: the shipped default model)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory (annotated video)")
    p.add_argument("--frames", type=int, default=150, help="frames in the synthetic sequence (>= 20)")
    p.add_argument("--seed", type=int, default=2024, help="synthetic sequence seed")
    p.add_argument("--rate", type=float, default=10.0, help="camera rate in Hz")
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="the node's inference backend (default: the node's own default, eager)")
    p.add_argument("--precision", choices=PRECISIONS, default=None, help="the node's precision (default fp32)")
    p.add_argument("--sentence-only", action="store_true",
                   help="the operator sends only the sentence on /track_command (no box): the node finds the "
                        "target with its grounder")
    return p


def _log_absences(seq: Any, records: dict[int, Any]) -> None:
    """What the node said while the target was hidden, and how soon it said TRACKING again after."""
    absent = np.asarray(seq.out_of_view) | np.asarray(seq.full_occlusion)  # (n,)
    if not absent[1:].any():
        log.info("[demo] the target is never hidden in this sequence")
        return
    seen = [t for t in range(1, len(seq)) if t in records]
    hidden = [t for t in seen if absent[t]]
    lost = sum(records[t].state == TrackedTarget.STATE_LOST for t in hidden)
    log.info(f"[demo] target hidden on {int(absent[1:].sum())} frames: {lost} of the {len(hidden)} processed ones "
             f"reported LOST")
    t = 1
    while t < len(seq):
        if not absent[t]:
            t += 1
            continue
        start = t
        while t < len(seq) and absent[t]:
            t += 1
        if t >= len(seq):
            break
        back = next((k for k in range(t, len(seq)) if k in records
                     and records[k].state == TrackedTarget.STATE_TRACKING), None)
        delay = "never" if back is None else f"{back - t} frame(s) later"
        # a target coming out from under a tree is first a sliver: when is half of it in view?
        half = next((k for k in range(t, len(seq)) if seq.visible_fraction[k] >= 0.5), None)
        after_half = "" if half is None or back is None else (
            f", {back - half} frame(s) after half of it is in view (frame {half})" if back >= half
            else f", {half - back} frame(s) before half of it is in view (frame {half})")
        other = [k for k in range(start, t) if k in records and records[k].state == TrackedTarget.STATE_TRACKING]
        not_lost = f" (TRACKING on frame(s) {other})" if other else ""
        log.info(f"[demo] hidden on frames {start}-{t - 1}{not_lost}; TRACKING again {delay}{after_half}")


def _operator_start(op: DemoOperator, seq: Any, frame0: np.ndarray, sentence_only: bool) -> None:
    """The operator's request on the first frame: the sentence alone (``sentence_only``), or the sentence plus
    the first frame's ground-truth box tied to that frame's stamp."""
    if sentence_only:  # before the first frame
        op.command_pub.publish(String(data=seq.sentence))
        _spin_until(op, lambda: False, 0.5)
        op.publish_frame(0, frame0)
        _spin_until(op, lambda: 0 in op.records, 30.0)
        return
    sec, nsec = op.publish_frame(0, frame0)
    req = TrackRequest(sentence=seq.sentence, has_box=True)
    req.x, req.y, req.width, req.height = (float(v) for v in seq.boxes_xywh[0])
    req.stamp.sec, req.stamp.nanosec = sec, nsec
    op.request_pub.publish(req)
    _spin_until(op, lambda: op.last_state == TrackedTarget.STATE_TRACKING, 30.0)


def _stream_and_stop(op: DemoOperator, frames: list[np.ndarray], rate: float) -> bool:
    """Publish the frames after the first at ``rate``, then 'stop'; True when the node then reports IDLE."""
    period = 1.0 / rate
    for t in range(1, len(frames)):
        start = time.monotonic()
        op.publish_frame(t, frames[t])
        _spin_until(op, lambda: False, max(0.0, period - (time.monotonic() - start)))
    _spin_until(op, lambda: False, 2.0)
    op.command_pub.publish(String(data="stop"))
    _spin_until(op, lambda: False, 0.5)
    op.publish_frame(len(frames), frames[-1])  # an idle node still reports its state per frame
    return _spin_until(op, lambda: op.last_state == TrackedTarget.STATE_IDLE, 10.0)


def _score_frames(seq: Any, records: dict[int, FrameRecord], frames: list[np.ndarray],
                  sink: VideoSink) -> tuple[list[float], list[float]]:
    """Log each processed frame, write the annotated video; IoUs of the visible processed frames, latencies."""
    ious, latencies = [], []
    for t in range(1, len(seq)):
        rec = records.get(t)
        frame = draw_box(frames[t], seq.boxes_xywh[t], color=(255, 255, 255))
        if rec is None:
            sink.write(frame)
            continue
        visible = not (seq.out_of_view[t] or seq.full_occlusion[t])
        iou = float(iou_xywh(rec.box_xywh[None], seq.boxes_xywh[t][None])[0]) if visible else float("nan")
        if visible:
            ious.append(iou)
        latencies.append(rec.latency_ms)
        log.info(f"frame {t:4d}  state {STATE_NAMES.get(rec.state, rec.state):9s}  conf {rec.confidence:.2f}  "
                 f"latency {rec.latency_ms:6.1f} ms  IoU {iou:.2f}")
        sink.write(draw_box(frame, rec.box_xywh, label=f"{STATE_NAMES.get(rec.state)} {rec.confidence:.2f}"))
    return ious, latencies


def _log_summary(args: argparse.Namespace, seq: Any, records: dict[int, FrameRecord], ious: list[float],
                 latencies: list[float], stopped: bool) -> None:
    processed = sum(1 for t in records if 1 <= t < len(seq))
    log.info(f"[demo] published {len(seq) - 1} frames after the first at {args.rate:g} Hz, processed {processed}, "
             f"dropped {len(seq) - 1 - processed}")
    if latencies:
        log.info(f"[demo] latency p50 {np.percentile(latencies, 50):.1f} ms, p95 {np.percentile(latencies, 95):.1f} ms")
    if ious:
        ious_a = np.asarray(ious)  # (n,)
        log.info(f"[demo] success vs ground truth on processed visible frames: mean IoU {ious_a.mean():.3f}, "
                 f"IoU>0.5 {(ious_a > 0.5).mean():.1%}, success AUC {success_auc(ious_a):.3f}")
    _log_absences(seq, records)
    if args.sentence_only:
        first = min((t for t, r in records.items() if r.state == TrackedTarget.STATE_TRACKING), default=None)
        found = (f"frame {first}, IoU {iou_xywh(records[first].box_xywh[None], seq.boxes_xywh[first][None])[0]:.2f}"
                 if first is not None else "never")
        log.info(f"[demo] sentence only: first TRACKING (grounded) on {found}")
    log.info(f"[demo] 'stop' -> idle: {'yes' if stopped else 'no'}; annotated video: {args.out / 'demo.mp4'}")


def _run_demo(args: argparse.Namespace, seq: Any, proc: subprocess.Popen) -> int:
    """Operate the started node over ``seq``, score it and write the annotated video."""
    sink = VideoSink(args.out / "demo.mp4", fps=args.rate)
    try:
        op = DemoOperator("tracker_node")
        if not _spin_until(op, lambda: op.image_pub.get_subscription_count() > 0
                           and op.request_pub.get_subscription_count() > 0, 120.0):
            log.error("[demo] error: the tracker node did not come up within 120 s")
            return 1
        if proc.poll() is not None:
            log.error("[demo] error: tracker node exited with %s", proc.returncode)
            return 1
        frames = [seq.render_frame(t) for t in range(len(seq))]
        _operator_start(op, seq, frames[0], args.sentence_only)
        stopped = _stream_and_stop(op, frames, args.rate)
        ious, latencies = _score_frames(seq, op.records, frames, sink)
        _log_summary(args, seq, op.records, ious, latencies, stopped)
        return 0
    finally:
        sink.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--follow" in argv:  # the closed-loop follow demo (allinone_ros.ros.follow_demo)
        from .follow_demo import main as follow_main

        return follow_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.frames < 20 or args.rate <= 0:
        parser.error(f"--frames must be >= 20 and --rate > 0, got {args.frames} and {args.rate}")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(100, 200)))
    seq = plan_sequence(SyntheticConfig(num_sequences=1, num_frames=args.frames, seed=args.seed), 1)
    cmd = tracker_node_command(args.device, args.checkpoint, args.backend, args.precision)
    log.info(f"[demo] sequence: {len(seq)} frames {seq.width}x{seq.height}, sentence: {seq.sentence!r}")
    log.info(f"[demo] starting: {' '.join(cmd)}")
    proc = subprocess.Popen(cmd)
    rclpy.init()
    try:
        return _run_demo(args, seq, proc)
    finally:
        rclpy.try_shutdown()
        interrupt(proc)


if __name__ == "__main__":
    sys.exit(main())
