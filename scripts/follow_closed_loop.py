#!/usr/bin/env python3
"""Closed-loop following figure without ROS: simulated drone camera + tracker + follow controller.

For each seed, plays the follow scene (target car with turns, speed changes and a tree to drive
under) twice: with the follow controller steering the simulated drone from the tracker's boxes,
and with the camera fixed where it started. Prints one line per seed and run, the summary, and
writes everything (per-seed summaries and per-frame logs) to a JSON file.

    python scripts/follow_closed_loop.py --seeds 10 --frames 300 --out out/follow/closed_loop.json

Default tracker: the shipped model (models/allinone_uav_small.safetensors), plain eager PyTorch.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from allinone_ros.control import FollowConfig
from allinone_ros.simulation import LoopConfig, SimConfig, plan_scene, run_episode, summarize
from allinone_ros.simulation.closed_loop import logs_as_dicts

log = logging.getLogger("follow-closed-loop")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10, help="number of scenes (seeds first_seed ... first_seed+N-1)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=300, help="frames per scene")
    p.add_argument("--rate", type=float, default=10.0, help="camera rate in Hz")
    p.add_argument("--latency", type=float, default=0.1, help="command latency of the simulated vehicle, s")
    p.add_argument("--processing-delay", type=float, default=0.05, help="s from an image to its command")
    p.add_argument("--checkpoint", default="", help="tracker checkpoint (default: the shipped model)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--out", type=Path, default=Path("out/follow/closed_loop.json"))
    return p


def _aggregate(rows: list[dict[str, float]]) -> dict[str, float]:
    return {
        "in_view_fraction": float(np.mean([r["in_view_fraction"] for r in rows])),
        "min_in_view_fraction": float(np.min([r["in_view_fraction"] for r in rows])),
        "mean_abs_offset": float(np.mean([r["mean_abs_offset"] for r in rows])),
        "p95_abs_offset": float(np.mean([r["p95_abs_offset"] for r in rows])),
        "seeds_that_lose_the_target": int(sum(r["in_view_fraction"] < 1.0 for r in rows)),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.seeds < 1 or args.frames < 2 or args.rate <= 0:
        build_parser().error(f"need --seeds >= 1, --frames >= 2, --rate > 0; got {args.seeds}, {args.frames}, "
                             f"{args.rate}")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    import torch

    from allinone_ros.grounding import GrounderConfig, build_grounder
    from allinone_ros.lifecycle import TargetLifecycle, build_tracker
    from allinone_ros.tracker.config import TrackerConfig

    torch.set_num_threads(args.threads)
    sim = SimConfig(rate_hz=args.rate, latency=args.latency)
    follow = FollowConfig()
    duration = args.frames / args.rate
    report: dict = {"command": " ".join(["python", "scripts/follow_closed_loop.py", *(argv or sys.argv[1:])]),
                    "sim": sim.__dict__, "follow": follow.__dict__, "seeds": []}
    closed_rows, fixed_rows = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        scene = plan_scene(sim, seed, duration)
        tracker = build_tracker(args.checkpoint or None, TrackerConfig(device=args.device))
        target = TargetLifecycle(tracker, build_grounder("", GrounderConfig(device=args.device)))
        start = time.perf_counter()
        closed = run_episode(scene, follow, LoopConfig(frames=args.frames, processing_delay=args.processing_delay),
                             target)
        elapsed = time.perf_counter() - start
        fixed = run_episode(scene, follow, LoopConfig(frames=args.frames, control=False), None)
        c, f = summarize(closed), summarize(fixed)
        closed_rows.append(c)
        fixed_rows.append(f)
        log.info(f"seed {seed:3d}  closed loop: in view {c['in_view_fraction']:.1%}, mean |offset| "
                 f"{c['mean_abs_offset']:.3f}, p95 {c['p95_abs_offset']:.3f}, tracking {c['tracking_fraction']:.1%} "
                 f"({elapsed:.1f} s)  |  fixed camera: in view {f['in_view_fraction']:.1%}, first out of view at "
                 f"frame {f['first_out_of_view_frame']}")
        report["seeds"].append({"seed": seed, "closed_loop": c, "fixed_camera": f,
                                "closed_loop_frames": logs_as_dicts(closed)})
    report["closed_loop"], report["fixed_camera"] = _aggregate(closed_rows), _aggregate(fixed_rows)
    cl, fx = report["closed_loop"], report["fixed_camera"]
    log.info(f"[follow] closed loop over {args.seeds} seeds x {args.frames} frames: in view {cl['in_view_fraction']:.2%} "
             f"(worst seed {cl['min_in_view_fraction']:.2%}), mean |offset| {cl['mean_abs_offset']:.3f}, "
             f"p95 {cl['p95_abs_offset']:.3f}; seeds losing the target: {cl['seeds_that_lose_the_target']}")
    log.info(f"[follow] fixed camera: in view {fx['in_view_fraction']:.2%}; seeds losing the target: "
             f"{fx['seeds_that_lose_the_target']}/{args.seeds}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    log.info(f"[follow] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
