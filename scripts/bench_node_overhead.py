#!/usr/bin/env python3
"""Per-frame overhead of the tracker node *excluding the model*, on 640x480 and 1280x720 frames.

Runs the node's own pipeline pieces in-process, N iterations each, on real ROS messages:

  take            rclpy deserialising a sensor_msgs/Image (what the executor does per frame)
  decode          image_msg_to_rgb (bgr8 camera frame -> RGB array)
  crop_normalise  the tracker's search crop (crop_square, factor 4, 256 px) + image_to_tensor
  publish_target  building the TrackedTarget (target_message) and publishing it to a subscriber
  total           the four above, timed together per iteration
  jpeg_decode     compressed_msg_to_rgb on a JPEG CompressedImage (compressed_input instead of decode)
  debug_image     annotate + rgb_to_image_msg + publish (only while someone subscribes)

Usage (after scripts/setup_ros.sh):
  source scripts/ros_env.sh
  python scripts/bench_node_overhead.py --output bench_results/node_overhead.json [--iterations 300] [--device cpu]

Prints a table (ms: mean, p50, p95) and writes the numbers, the machine and the settings as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch

RESOLUTIONS = {"640x480": (480, 640), "1280x720": (720, 1280)}
SEARCH_FACTOR = 4.0
SEARCH_SIZE = 256


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("bench_results/node_overhead.json"),
                        help="JSON file to write (default: bench_results/node_overhead.json)")
    parser.add_argument("--iterations", type=int, default=300, help="timed iterations per stage (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations first (default 20)")
    parser.add_argument("--device", default="cpu", help="device for crop_normalise: cpu, cuda, cuda:N (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = PyTorch default)")
    args = parser.parse_args()
    if args.iterations < 1 or args.warmup < 0:
        parser.error("--iterations must be >= 1 and --warmup >= 0")
    return args


def timed(fn: Callable[[], Any], iterations: int, warmup: int, sync: Callable[[], None]) -> np.ndarray:
    for _ in range(warmup):
        fn()
    sync()
    out = np.empty(iterations)
    for i in range(iterations):
        t0 = time.perf_counter()
        fn()
        sync()
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def summary(ms: np.ndarray) -> dict[str, float]:
    return {"mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "min_ms": float(ms.min())}


def camera_frame(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (7, 7), 0)
    cv2.rectangle(frame, (w // 3, h // 3), (w // 3 + w // 8, h // 3 + h // 10), (220, 30, 30), -1)
    return frame


def main() -> int:
    args = parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    import rclpy
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import CompressedImage, Image

    from allinone_ros.msg import TrackedTarget
    from allinone_ros.ros.annotate import annotate
    from allinone_ros.ros.image_conversion import compressed_msg_to_rgb, image_msg_to_rgb, rgb_to_image_msg
    from allinone_ros.lifecycle import TargetResult, TargetState
    from allinone_ros.ros.target_message import target_message
    from allinone_ros.ops.crop import crop_square
    from allinone_ros.ops.normalize import image_to_tensor

    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.randint(1, 200))
    pub_node = rclpy.create_node("bench_publisher", context=context)
    sub_node = rclpy.create_node("bench_subscriber", context=context)
    target_pub = pub_node.create_publisher(TrackedTarget, "bench/target", 10)
    debug_pub = pub_node.create_publisher(Image, "bench/debug_image", 1)
    sub_node.create_subscription(TrackedTarget, "bench/target", lambda m: None, 10)
    sub_node.create_subscription(Image, "bench/debug_image", lambda m: None, 1)
    deadline = time.monotonic() + 15
    while (target_pub.get_subscription_count() < 1 or debug_pub.get_subscription_count() < 1) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    matched = target_pub.get_subscription_count() >= 1

    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for name, (h, w) in RESOLUTIONS.items():
            rgb = camera_frame(h, w)
            msg = rgb_to_image_msg(rgb, "bgr8")
            msg.header.frame_id = "camera"
            msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_000, 5
            wire = serialize_message(msg)
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            compressed = CompressedImage(format="jpeg", data=jpeg.tobytes())
            box = (w / 3, h / 3, w / 8, h / 10)
            box_xywh = np.array(box, dtype=np.float64)
            result = TargetResult(TargetState.TRACKING, box_xywh, 0.8, "the red box", (h, w), 1, box_xywh)

            def take() -> Any:
                return deserialize_message(wire, Image)

            def crop_normalise(image: np.ndarray = rgb) -> Any:
                patch, _ = crop_square(image, box, SEARCH_FACTOR, SEARCH_SIZE)
                return image_to_tensor(patch, device)[None]

            def publish_target(header: Any = msg.header) -> None:
                target_pub.publish(target_message(header, result, 12.5, 3))

            def total() -> None:
                received = deserialize_message(wire, Image)
                image = image_msg_to_rgb(received)
                crop_normalise(image)
                publish_target(received.header)

            def debug_image() -> None:
                debug_pub.publish(rgb_to_image_msg(annotate(rgb, result), "rgb8", msg.header))

            stages = {
                "take": take,
                "decode": lambda: image_msg_to_rgb(msg),
                "crop_normalise": crop_normalise,
                "publish_target": publish_target,
                "total": total,
                "jpeg_decode": lambda: compressed_msg_to_rgb(compressed),
                "debug_image": debug_image,
            }
            results[name] = {}
            for stage, fn in stages.items():
                results[name][stage] = summary(timed(fn, args.iterations, args.warmup, sync))
                results[name][stage]["bytes"] = float(len(wire) if stage in ("take", "decode", "total")
                                                      else len(jpeg) if stage == "jpeg_decode" else 0)
    finally:
        pub_node.destroy_node()
        sub_node.destroy_node()
        rclpy.try_shutdown(context=context)

    header = f"{'frame':<10} {'stage':<15} {'mean ms':>9} {'p50 ms':>9} {'p95 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, stages_out in results.items():
        for stage, s in stages_out.items():
            print(f"{name:<10} {stage:<15} {s['mean_ms']:>9.3f} {s['p50_ms']:>9.3f} {s['p95_ms']:>9.3f}")
    report = {
        "what": "tracker node per-frame overhead excluding the model (see scripts/bench_node_overhead.py)",
        "iterations": args.iterations,
        "warmup": args.warmup,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "subscriber_matched": matched,
        "search_crop": {"factor": SEARCH_FACTOR, "size": SEARCH_SIZE},
        "input_encoding": "bgr8",
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
