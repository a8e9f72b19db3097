#!/usr/bin/env python3
"""Evaluate the shipped default model on synthetic UAV test sets made with unseen seeds.

Reproducible from the repository root::

    .venv/bin/python scripts/eval_default_model.py --json out/eval_default_model.json

1. Test set ``--seed`` (default 1000; training used seeds 1 and 2): ``--num-sequences``
   sequences of the generator's default mix (occlusion, out of view, distractors). Success AUC,
   precision at 20 px and normalised precision, pytracking conventions (frame 1 = ground
   truth; frames where the target is fully occluded or out of view count as failures).
2. Distractor set ``--distractor-seed`` (default 1001): every sequence has a distractor of the
   target's shape in another colour next to the target. Each sequence is tracked twice from
   the same initial box: with its true sentence and with a sentence naming the distractor
   (``"the <distractor colour> <shape>"``). Reported: AUC against the target with each
   sentence, and AUC against the distractor's track (clipped to the frame) with the
   distractor sentence, i.e. how often the sentence pulls the tracker to the other object.

The test sets are generated under ``--data-root`` when missing (same seed -> same files).
Model-only latency (ms per frame, batch 1, this machine's CPU) is measured as well.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from allinone_ros.evaluation.metrics import AbsentPolicy, Conventions, ZeroSizePolicy, evaluate_sequence, preset
from allinone_ros.evaluation.synthetic_sets import distractor_track, ensure_dataset, run_sequence, score
from allinone_ros.tracker import Tracker, TrackerConfig
from allinone_ros.lifecycle import build_tracker

log = logging.getLogger("eval_default_model")
DISTRACTOR_CONVENTIONS = Conventions(ZeroSizePolicy.KEEP, AbsentPolicy.EXCLUDE, first_frame_groundtruth=False)


def model_latency_ms(tracker: Tracker, repeats: int = 50) -> float:
    cfg = tracker.model.cfg
    z = torch.zeros(1, 3, cfg.template_size, cfg.template_size)
    x = torch.zeros(1, 3, cfg.search_size, cfg.search_size)
    lang = tracker.sentence_vector("the red car")
    for _ in range(5):
        tracker.runner(z, x, lang)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tracker.runner(z, x, lang)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="default: models/allinone_uav_small.safetensors")
    p.add_argument("--data-root", type=Path, default=Path("out/synthetic"), help="where the test sets live")
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--num-sequences", type=int, default=40)
    p.add_argument("--distractor-seed", type=int, default=1001)
    p.add_argument("--distractor-sequences", type=int, default=20)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    conventions = preset("pytracking")
    tracker = build_tracker(args.checkpoint, TrackerConfig())
    report: dict[str, object] = {"checkpoint": str(args.checkpoint or "default"), "conventions": conventions.describe()}

    test_root = args.data_root / f"uav_test_s{args.seed}"
    seqs = ensure_dataset(test_root, args.seed, args.num_sequences, args.frames, with_distractor=False)
    t0 = time.perf_counter()
    results = [evaluate_sequence(s.name, run_sequence(tracker, s, s.sentence), s.boxes_xywh, s.visible, conventions)
               for s in seqs]
    elapsed = time.perf_counter() - t0
    report["test"] = {"seed": args.seed, **score(results),
                      "tracking_fps": sum(len(s) - 1 for s in seqs) / elapsed}
    log.info("test seed %d: %s", args.seed, report["test"])

    d_root = args.data_root / f"uav_test_distractor_s{args.distractor_seed}"
    d_seqs = ensure_dataset(d_root, args.distractor_seed, args.distractor_sequences, args.frames, with_distractor=True)
    true_res, wrong_res, wrong_vs_distractor = [], [], []
    for s in d_seqs:
        sentence, d_boxes, d_visible = distractor_track(Path(s.frame_paths[0]).parent.parent)
        pred_true = run_sequence(tracker, s, s.sentence)
        pred_wrong = run_sequence(tracker, s, sentence)
        true_res.append(evaluate_sequence(s.name, pred_true, s.boxes_xywh, s.visible, conventions))
        wrong_res.append(evaluate_sequence(s.name, pred_wrong, s.boxes_xywh, s.visible, conventions))
        # frame 1 is the target's box: score the distractor from frame 2 on, where it is in view
        wrong_vs_distractor.append(evaluate_sequence(
            s.name, pred_wrong[1:], d_boxes[1:], d_visible[1:], DISTRACTOR_CONVENTIONS))
    report["distractor"] = {
        "seed": args.distractor_seed,
        "true_sentence_vs_target": score(true_res),
        "distractor_sentence_vs_target": score(wrong_res),
        "distractor_sentence_vs_distractor": score(wrong_vs_distractor),
    }
    log.info("distractor seed %d: %s", args.distractor_seed, report["distractor"])
    report["model_latency_ms"] = model_latency_ms(tracker)
    report["threads"] = args.threads
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
