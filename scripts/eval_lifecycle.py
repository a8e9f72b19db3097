#!/usr/bin/env python3
"""Measure the target lifecycle (what the node runs) against the released tracker, on held-out synthetic sets.

Reproducible from the repository root (the sets are generated when missing; seeds 9000+ are never
used for training: the tracker used 1-4, the grounder 1-4, 11-14, the verifier 31-33, validation
500/501/531, the grounder's threshold 6001-6005)::

    .venv/bin/python scripts/eval_lifecycle.py --json out/eval_lifecycle.json

The defaults of :class:`LifecycleConfig` were chosen on development sets with other seeds
(``--seed-offset -1000 --sequences 16``: seeds 8401-8605), trying values with ``--set KEY=VALUE``.

Sets (640x360, ``--sequences`` each, 100 frames; ``--frames`` for the grounding sets):

* ``absence`` (``--absence``: one full occlusion or out-of-view episode of 12-30 frames per sequence,
  random distractors): long-term figures of the lifecycle, and success AUC on visible frames of both.
* ``no_absence`` (no occlusion, no out-of-view, look-alike distractors of every kind): AUC of both
  (pytracking protocol), visible frames without a box and sequences with a switch for the lifecycle.
* ``grounding_<kind>`` (same-colour and same-shape look-alikes, mixed, relational sentences): the
  sentence alone; the first box reported, on the target (IoU > 0.5) or not.
* ``absent_sentence``: the sentence names an object that is not in the scene; the share of
  sequences that stay in GROUNDING for every frame.
* cost: per-frame time of the lifecycle and of the plain tracker side by side on the no-absence
  set (each sequence by both, one after the other), median over each sequence, then the median of
  those.

Everything goes through :func:`allinone_ros.lifecycle.offline.run_frames`, the loop of
``allinone-track`` and ``allinone-eval``, with the node's default :class:`LifecycleConfig`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from allinone_ros.data.datasets import open_dataset
from allinone_ros.data.sequence import Sequence
from allinone_ros.evaluation.longterm import FrameReport, evaluate_long_term, summarize_long_term
from allinone_ros.evaluation.metrics import evaluate_sequence, preset, summarize
from allinone_ros.grounding import build_grounder
from allinone_ros.lifecycle import LifecycleConfig, TargetLifecycle, build_tracker
from allinone_ros.lifecycle.offline import OfflineRun, PlainTracker, run_frames
from allinone_ros.ops.iou import box_iou_xywh

log = logging.getLogger("eval_lifecycle")

SETS = {  # name -> (seed, allinone-make-synthetic flags)
    "absence": (9401, ["--absence"]),
    "no_absence": (9501, ["--occlusion-prob", "0", "--out-of-view-prob", "0",
                          "--distractor-kinds", "same-shape,same-colour,mixed"]),
    "grounding_same_colour": (9601, ["--distractor-kinds", "same-colour", "--occlusion-prob", "0",
                                     "--out-of-view-prob", "0"]),
    "grounding_same_shape": (9602, ["--distractor-kinds", "same-shape", "--occlusion-prob", "0",
                                    "--out-of-view-prob", "0"]),
    "grounding_mixed": (9603, ["--distractor-kinds", "mixed", "--occlusion-prob", "0", "--out-of-view-prob", "0"]),
    "grounding_relation": (9604, ["--distractor-kinds", "same-shape,same-colour,mixed", "--relation-sentence",
                                  "--occlusion-prob", "0", "--out-of-view-prob", "0"]),
    "absent_sentence": (9605, ["--absent-sentence", "--distractor-kinds", "same-shape,same-colour,mixed",
                               "--occlusion-prob", "0", "--out-of-view-prob", "0"]),
}


def ensure(root: Path, name: str, sequences: int, frames: int, seed_offset: int = 0) -> list[Sequence]:
    from allinone_ros.cli.make_synthetic import main as make_synthetic

    seed, flags = SETS[name]
    seed += seed_offset
    out = root / f"{name}_s{seed}"
    if not (out / "uav").is_dir():
        code = make_synthetic(["--out", str(out), "--num-sequences", str(sequences), "--seed", str(seed),
                               "--frames", str(frames), "--no-progress", *flags])
        if code != 0:
            raise SystemExit(f"allinone-make-synthetic failed for {name}")
    return open_dataset("lasot", out)


def report_of(run: OfflineRun) -> FrameReport:
    has = np.array([r.box_xywh is not None for r in run.results])
    return FrameReport(has, run.boxes_xywh(), run.confidences())


def auc(runs: list[OfflineRun], seqs: list[Sequence]) -> float:
    conv = preset("pytracking")
    res = [evaluate_sequence(s.name, r.boxes_xywh(), s.boxes_xywh, s.visible, conv) for r, s in zip(runs, seqs)]
    return float(summarize(res).auc)


def run_all(runner: TargetLifecycle | PlainTracker, seqs: list[Sequence], desc: str,
            box_start: bool = True) -> list[OfflineRun]:
    return [run_frames(runner, s.frames(), s.sentence, s.init_box_xywh if box_start else None)
            for s in tqdm(seqs, desc=desc, file=sys.stderr)]


def lifecycle_config(overrides: list[str]) -> LifecycleConfig:
    """The node's defaults with ``key=value`` overrides (values parsed as the field's type)."""
    base = LifecycleConfig()
    changes: dict[str, object] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not hasattr(base, key):
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE with KEY a LifecycleConfig field")
        current = getattr(base, key)
        if isinstance(current, bool):
            changes[key] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, (int, float)):
            changes[key] = type(current)(value)
        else:
            changes[key] = value
    return dataclasses.replace(base, **changes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, default=Path("out/synthetic/lifecycle"))
    p.add_argument("--sequences", type=int, default=30)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--grounding-frames", type=int, default=30)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--grounder", default="", help="as the node's parameter ('' = the shipped one)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", default=None, help="a subset of: absence no_absence grounding absent_sentence")
    p.add_argument("--seed-offset", type=int, default=0,
                   help="added to every set's seed; -1000 gives the development sets (8401..8605) the defaults "
                        "were chosen on")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a LifecycleConfig field (repeatable), e.g. --set verify_threshold=0.3")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    tracker = build_tracker(args.checkpoint)
    config = lifecycle_config(args.overrides)
    lifecycle = TargetLifecycle(tracker, build_grounder(args.grounder), config)
    plain = PlainTracker(tracker)
    parts = set(args.only or ["absence", "no_absence", "grounding", "absent_sentence"])
    report: dict[str, object] = {"lifecycle_config": config.__dict__, "grounder": args.grounder or "default",
                                 "seed_offset": args.seed_offset}
    off = args.seed_offset

    if "absence" in parts:
        seqs = ensure(args.data_root, "absence", args.sequences, args.frames, off)
        life, rel = run_all(lifecycle, seqs, "absence/lifecycle"), run_all(plain, seqs, "absence/plain")
        lt = summarize_long_term([evaluate_long_term(s.name, s.boxes_xywh, report_of(r), ~s.visible)
                                  for r, s in zip(life, seqs)])
        lt_plain = summarize_long_term([evaluate_long_term(s.name, s.boxes_xywh, report_of(r), ~s.visible)
                                        for r, s in zip(rel, seqs)])
        report["absence"] = {"seed": SETS["absence"][0] + off, "lifecycle": lt.as_dict(),
                             "plain_auc_visible": lt_plain.auc_visible,
                             "auc_visible_gain": lt.auc_visible - lt_plain.auc_visible}
        print(json.dumps({"absence": report["absence"]}, indent=1))

    if "no_absence" in parts:
        seqs = ensure(args.data_root, "no_absence", args.sequences, args.frames, off)
        life, rel = [], []  # side by side: each sequence by both, one after the other (same machine load)
        for s in tqdm(seqs, desc="no_absence/lifecycle+plain", file=sys.stderr):
            life.append(run_frames(lifecycle, s.frames(), s.sentence, s.init_box_xywh))
            rel.append(run_frames(plain, s.frames(), s.sentence, s.init_box_xywh))
        lt = summarize_long_term([evaluate_long_term(s.name, s.boxes_xywh, report_of(r), ~s.visible)
                                  for r, s in zip(life, seqs)])
        per_frame = {"lifecycle": [float(np.median(r.frame_ms[1:])) for r in life],
                     "plain": [float(np.median(r.frame_ms[1:])) for r in rel]}
        cost = {k: float(np.median(v)) for k, v in per_frame.items()}
        report["no_absence"] = {"seed": SETS["no_absence"][0] + off, "auc_lifecycle": auc(life, seqs),
                                "auc_plain": auc(rel, seqs), "visible_without_box": lt.visible_without_box,
                                "sequences_with_switch": lt.sequences_with_switch,
                                "median_frame_ms": cost, "cost_ratio": cost["lifecycle"] / cost["plain"]}
        print(json.dumps({"no_absence": report["no_absence"]}, indent=1))

    if "grounding" in parts:
        kinds = [k for k in SETS if k.startswith("grounding_")]
        out: dict[str, object] = {}
        hits_all = total_all = 0
        for kind in kinds:
            seqs = ensure(args.data_root, kind, args.sequences, args.grounding_frames, off)
            runs = run_all(lifecycle, seqs, kind, box_start=False)
            hits, frames_to_first, missing = 0, [], 0
            for r, s in zip(runs, seqs):
                first = next((i for i, res in enumerate(r.results) if res.box_xywh is not None), None)
                if first is None:
                    missing += 1
                    continue
                frames_to_first.append(first)
                hits += int(box_iou_xywh(r.results[first].box_xywh, s.boxes_xywh[first]) > 0.5)
            out[kind] = {"seed": SETS[kind][0] + off, "sequences": len(seqs), "first_box_on_target": hits,
                         "no_box": missing, "median_first_frame": float(np.median(frames_to_first))
                         if frames_to_first else None}
            hits_all, total_all = hits_all + hits, total_all + len(seqs)
        out["overall_first_box_on_target"] = hits_all / max(total_all, 1)
        report["grounding"] = out
        print(json.dumps({"grounding": out}, indent=1))

    if "absent_sentence" in parts:
        seqs = ensure(args.data_root, "absent_sentence", args.sequences, args.grounding_frames, off)
        runs = run_all(lifecycle, seqs, "absent_sentence", box_start=False)
        stayed = [all(res.box_xywh is None for res in r.results) for r in runs]
        report["absent_sentence"] = {"seed": SETS["absent_sentence"][0] + off, "sequences": len(seqs),
                                     "frames": args.grounding_frames,
                                     "stayed_grounding": float(np.mean(stayed))}
        print(json.dumps({"absent_sentence": report["absent_sentence"]}, indent=1))

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
