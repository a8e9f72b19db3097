#!/usr/bin/env python3
"""Per-frame latency of the node's track state machine after a box start and after a sentence start.

Runs the node's :class:`~allinone_ros.ros.session.TrackingSession` in-process (no ROS graph) with the
shipped model and grounder on a synthetic UAV sequence, in alternating rounds: box only, sentence
only (the grounder finds the target), box + sentence. Reports the start frame (frame 0: grounding
and/or initialisation) apart from the tracked frames after it, and the grounder's own costs (first
call after loading, a new sentence, a known sentence).

    python scripts/bench_start_latency.py --output bench_results/start_latency.json [--frames 40 --rounds 3]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from allinone_ros.backends.config import BackendConfig
from allinone_ros.data.synthetic import SyntheticConfig, plan_sequence
from allinone_ros.grounding import GrounderConfig, build_grounder
from allinone_ros.lifecycle import TargetLifecycle, build_tracker
from allinone_ros.tracker import TrackerConfig


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", type=Path, default=Path("bench_results/start_latency.json"))
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seq = plan_sequence(SyntheticConfig(num_sequences=1, num_frames=max(args.frames, 20), seed=0), 1)
    frames = [seq.render_frame(t) for t in range(args.frames)]
    box = tuple(float(v) for v in seq.boxes_xywh[0])
    tracker = build_tracker(None, TrackerConfig(device="cpu"), BackendConfig(name="eager"))
    grounder = build_grounder("", GrounderConfig(device="cpu"))
    assert grounder is not None
    grounder_ms = {}
    for label, sentence in [("first_call", "warm up"), ("new_sentence", seq.sentence), ("known_sentence", seq.sentence)]:
        t0 = time.perf_counter()
        grounder.ground(frames[0], sentence)
        grounder_ms[label] = ms_since(t0)
    target = TargetLifecycle(tracker, grounder)
    starts = {"box": ("", box), "sentence": (seq.sentence, None), "box+sentence": (seq.sentence, box)}
    rows: dict[str, dict[str, list[float]]] = {k: {"start_frame_ms": [], "tracked_frame_ms": []} for k in starts}
    for _ in range(args.rounds):
        for kind, command in starts.items():
            target.stop()
            target.request(*command)  # the box goes to the next image, as in the node
            latencies = []
            for frame in frames:
                t0 = time.perf_counter()
                target.process(frame)
                latencies.append(ms_since(t0))
            rows[kind]["start_frame_ms"].append(latencies[0])
            rows[kind]["tracked_frame_ms"] += latencies[1:]
    summary = {k: {"start_frame_ms": float(np.mean(v["start_frame_ms"])),
                   "tracked_frame_mean_ms": float(np.mean(v["tracked_frame_ms"])),
                   "tracked_frame_p50_ms": float(np.median(v["tracked_frame_ms"])),
                   "mean_over_track_ms": float(np.mean(v["start_frame_ms"] + v["tracked_frame_ms"]))}
               for k, v in rows.items()}
    for k, s in summary.items():
        print(f"{k:13s} start frame {s['start_frame_ms']:6.1f} ms, tracked frames mean {s['tracked_frame_mean_ms']:6.1f} "
              f"ms (p50 {s['tracked_frame_p50_ms']:.1f}), mean over {args.frames}-frame tracks {s['mean_over_track_ms']:.1f}")
    print("grounder: " + ", ".join(f"{k} {v:.1f} ms" for k, v in grounder_ms.items()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"frames": args.frames, "rounds": args.rounds, "threads": args.threads,
                                       "summary": summary, "grounder_ms": grounder_ms}, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
