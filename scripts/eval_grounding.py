#!/usr/bin/env python3
"""Evaluate starting from a sentence alone (NL-only) with the shipped default models.

Reproducible from the repository root::

    .venv/bin/python scripts/eval_grounding.py --threads 1 --json out/eval_grounding.json

On the held-out distractor set (seed 1001 by default; every sequence has a distractor of the
target's shape in another colour next to the target; the tracker was trained on seeds 1-4, the
grounder on seeds 1, 2 and 11-14):

* NL-only: the initial box is ignored; the lost-target state machine
  (:class:`~allinone_ros.lifecycle.TargetLifecycle`, the node's code) grounds the sentence, tracks, notices loss and
  re-grounds. Reported: the share of sequences whose *first grounded box* overlaps the target with
  IoU > 0.5, the frame it was found on, and success AUC / precision scored as the benchmarks do
  (frame 1 counts with the ground truth, as in every OPE toolkit; frames without a box are empty);
* box start, same sequences: plain one-pass tracking from the ground-truth box (the published
  protocol), and the same with the lost-target state machine.

``--seed`` (default 1000) adds the default-mix test set (occlusion, out of view) for the box start
with and without the state machine. Conventions: pytracking (frames where the target is absent
count as failures, zero-size predictions keep the previous box).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from allinone_ros.data.sequence import Sequence
from allinone_ros.evaluation.metrics import evaluate_sequence, preset
from allinone_ros.evaluation.synthetic_sets import ensure_dataset, run_sequence, score
from allinone_ros.grounding import GrounderConfig, build_grounder
from allinone_ros.lifecycle import LifecycleConfig, TargetLifecycle, build_tracker
from allinone_ros.lifecycle.offline import run_frames
from allinone_ros.tracker import TrackerConfig
from allinone_ros.ops.iou import box_iou_xywh as box_iou

log = logging.getLogger("eval_grounding")


def run_managed(managed: TargetLifecycle, seq: Sequence, nl_only: bool) -> tuple[np.ndarray, int | None, np.ndarray | None]:
    """Boxes (zeros where no box), frame of the first grounded box and that box (NL-only)."""
    run = run_frames(managed, seq.frames(), seq.sentence, None if nl_only else seq.boxes_xywh[0])
    first = next((i for i, r in enumerate(run.results) if r.box_xywh is not None), None)
    return run.boxes_xywh(), first, None if first is None else run.results[first].box_xywh


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="tracker (default: the shipped model)")
    p.add_argument("--grounder", default="", help="grounder (default: the shipped built-in grounder)")
    p.add_argument("--data-root", type=Path, default=Path("out/synthetic"))
    p.add_argument("--distractor-seed", type=int, default=1001)
    p.add_argument("--distractor-sequences", type=int, default=20)
    p.add_argument("--seed", type=int, default=1000, help="default-mix test set; -1 skips it")
    p.add_argument("--num-sequences", type=int, default=40)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("allinone_ros.lifecycle").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    conventions = preset("pytracking")
    tracker = build_tracker(args.checkpoint, TrackerConfig())
    grounder = build_grounder(args.grounder, GrounderConfig())
    managed = TargetLifecycle(tracker, grounder, LifecycleConfig())
    report: dict[str, object] = {"checkpoint": str(args.checkpoint or "default"),
                                 "grounder": args.grounder or "default", "lifecycle": LifecycleConfig().__dict__}

    d_root = args.data_root / f"uav_test_distractor_s{args.distractor_seed}"
    seqs = ensure_dataset(d_root, args.distractor_seed, args.distractor_sequences, args.frames, with_distractor=True)
    nl, box_plain, box_managed, hits, found_at = [], [], [], [], []
    for s in seqs:
        boxes, first, first_box = run_managed(managed, s, nl_only=True)
        ok = first_box is not None and bool(s.visible[first]) and box_iou(first_box, s.boxes_xywh[first]) > 0.5
        hits.append(ok)
        found_at.append(first)
        log.info("%s: first grounded box on frame %s, IoU %.2f (%s)", s.name, first,
                 box_iou(first_box, s.boxes_xywh[first]) if first_box is not None else 0.0, s.sentence)
        nl.append(evaluate_sequence(s.name, boxes, s.boxes_xywh, s.visible, conventions))
        box_plain.append(evaluate_sequence(s.name, run_sequence(tracker, s, s.sentence), s.boxes_xywh, s.visible,
                                           conventions))
        box_managed.append(evaluate_sequence(s.name, run_managed(managed, s, nl_only=False)[0], s.boxes_xywh,
                                             s.visible, conventions))
    report["distractor"] = {
        "seed": args.distractor_seed, "sequences": len(seqs),
        "first_grounded_iou_gt_050": float(np.mean(hits)),
        "first_grounded_frame": found_at,
        "nl_only": score(nl), "box_start": score(box_plain), "box_start_lost_loop": score(box_managed),
    }
    log.info("distractor set: %s", report["distractor"])
    if args.seed >= 0:
        t_root = args.data_root / f"uav_test_s{args.seed}"
        tseqs = ensure_dataset(t_root, args.seed, args.num_sequences, args.frames, with_distractor=False)
        plain, lost = [], []
        for s in tseqs:
            plain.append(evaluate_sequence(s.name, run_sequence(tracker, s, s.sentence), s.boxes_xywh, s.visible,
                                           conventions))
            lost.append(evaluate_sequence(s.name, run_managed(managed, s, nl_only=False)[0], s.boxes_xywh,
                                          s.visible, conventions))
        report["test"] = {"seed": args.seed, "box_start": score(plain), "box_start_lost_loop": score(lost)}
        log.info("test set: %s", report["test"])
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
