#!/usr/bin/env python3
"""Does the grounder find the named object among look-alikes, and refuse a sentence naming nothing?

Reproducible from the repository root (held-out seeds: the grounders were trained on 1-4, 11-14
and 21-23, validated on 501 and 6001-6005)::

    python scripts/eval_grounder.py --grounder models/text_grounder_uav_small.safetensors \\
        --grounder runs/grounder_v2/final.safetensors --seed-base 7000 --json out/eval_grounder.json

Five synthetic sets of ``--sequences`` sequences of ``--frames`` frames (640x360, default mix of
occlusion / out-of-view otherwise), generated under ``--data-root`` when missing, with seeds
``seed_base + 1 .. 5`` (``allinone-make-synthetic`` flags in :data:`KINDS`): look-alikes of the
target's colour and another shape, of its shape and another colour, both at once, the same with a
relational sentence ("the red car left of the red circle"), and sentences naming a colour/shape
that no object of the scene has.

Each grounder runs on the first ``--frames`` frames of every sequence with no score floor; per
threshold (``--threshold``, and a sweep) it reports

* sets with the target named: ``top_on_target`` -- frame 1's best candidate overlaps the target
  with IoU > 0.5 (whatever its score); ``start_on_target_frame1`` -- it also scores >= threshold,
  i.e. a sentence-only start on frame 1 is on the target; ``start_on_target`` -- the first frame
  (of the first N) whose best candidate scores >= threshold has it on the target (what a node that
  stays in GROUNDING until then does); ``no_start`` -- no frame reaches the threshold;
* the absent-object set: ``refused_frame1`` / ``refused`` -- the share of sequences where no
  candidate reaches the threshold on frame 1 / on any of the first N frames.

``--choose-threshold`` picks the threshold that maximises ``start_on_target`` (mean of the four
named kinds) + ``refused`` (use it on a validation ``--seed-base``, e.g. 6000, never on the test).
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

from allinone_ros.data.frames import read_frame
from allinone_ros.data.sequence import read_sequence_dir
from allinone_ros.data.synthetic import SyntheticConfig, generate_dataset
from allinone_ros.grounding import GrounderConfig, build_grounder
from allinone_ros.ops.iou import box_iou_xywh

log = logging.getLogger("eval_grounder")

# kind -> (seed offset, SyntheticConfig options; the allinone-make-synthetic flags in the comment)
KINDS: dict[str, tuple[int, dict]] = {
    "same_colour": (1, {"lookalike_kinds": ("same_colour",)}),  # --distractor-kinds same-colour
    "same_shape": (2, {"lookalike_kinds": ("same_shape",)}),  # --distractor-kinds same-shape
    "mixed": (3, {"lookalike_kinds": ("mixed",)}),  # --distractor-kinds mixed
    # --distractor-kinds same-shape,same-colour,mixed --relation-sentence
    "relations": (4, {"lookalike_kinds": ("same_shape", "same_colour", "mixed"), "relation_sentence": True}),
    # --distractor-kinds same-shape,same-colour,mixed --absent-sentence
    "absent": (5, {"lookalike_kinds": ("same_shape", "same_colour", "mixed"), "absent_sentence": True}),
}
NAMED = ("same_colour", "same_shape", "mixed", "relations")
SWEEP = tuple(round(t, 2) for t in np.arange(0.1, 0.951, 0.05))


def ensure_set(root: Path, kind: str, seed_base: int, sequences: int, frames: int) -> list[Path]:
    offset, options = KINDS[kind]
    cfg = SyntheticConfig(num_sequences=sequences, num_frames=frames, seed=seed_base + offset, **options)
    dirs = [root / cfg.class_name / f"{cfg.class_name}-{k}" for k in range(1, sequences + 1)]
    if not all((d / "meta.json").is_file() for d in dirs):
        log.info("generating %s: %d sequences, seed %d, under %s", kind, sequences, cfg.seed, root)
        generate_dataset(root, cfg, overwrite=True)
    seed = json.loads((dirs[0] / "meta.json").read_text())["seed"]
    if seed != cfg.seed:
        raise ValueError(f"{root} holds seed {seed}, expected {cfg.seed}; use another --data-root")
    return dirs


def top_per_frame(grounder, seq_dir: Path, frames: int) -> list[tuple[float, float]]:
    """(best score, IoU of the best candidate with the target) on each of the first ``frames`` frames."""
    seq = read_sequence_dir(seq_dir)
    out = []
    for t in range(min(frames, len(seq))):
        cands = grounder.ground(read_frame(seq.frame_paths[t]), seq.sentence)
        if not cands:
            out.append((0.0, 0.0))
            continue
        on = box_iou_xywh(cands[0].box_xywh, seq.boxes_xywh[t]) if seq.visible[t] else 0.0
        out.append((float(cands[0].score), on))
    return out


def summarize(kind: str, runs: list[list[tuple[float, float]]], threshold: float) -> dict[str, float]:
    n = len(runs)
    if kind == "absent":
        return {"refused_frame1": sum(r[0][0] < threshold for r in runs) / n,
                "refused": sum(max(s for s, _ in r) < threshold for r in runs) / n, "sequences": n}
    starts = [next(((s, o) for s, o in r if s >= threshold), None) for r in runs]
    return {"top_on_target": sum(r[0][1] > 0.5 for r in runs) / n,
            "start_on_target_frame1": sum(r[0][0] >= threshold and r[0][1] > 0.5 for r in runs) / n,
            "start_on_target": sum(s is not None and s[1] > 0.5 for s in starts) / n,
            "no_start": sum(s is None for s in starts) / n, "sequences": n}


def choose_threshold(runs: dict[str, list]) -> float:
    def value(t: float) -> float:
        named = np.mean([summarize(k, runs[k], t)["start_on_target"] for k in NAMED])
        return float(named + summarize("absent", runs["absent"], t)["refused"])

    return max(SWEEP, key=lambda t: (round(value(t), 6), -t))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grounder", action="append", default=[], help="grounder checkpoint (repeatable; '' = shipped)")
    p.add_argument("--data-root", type=Path, default=Path("out/synthetic"))
    p.add_argument("--seed-base", type=int, default=7000, help="sets use seeds seed_base+1 .. +5")
    p.add_argument("--sequences", type=int, default=30)
    p.add_argument("--frames", type=int, default=30, help="frames per sequence (and grounded per sequence)")
    p.add_argument("--threshold", type=float, default=None, help="report at this threshold (default: chosen)")
    p.add_argument("--choose-threshold", action="store_true", help="pick the threshold on these sets")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    sets = {k: ensure_set(args.data_root / f"ground_s{args.seed_base + KINDS[k][0]}_{k}", k, args.seed_base,
                          args.sequences, args.frames) for k in KINDS}
    report: dict[str, object] = {"seed_base": args.seed_base, "sequences": args.sequences, "frames": args.frames,
                                 "sets": {k: str(v[0].parent.parent) for k, v in sets.items()}, "grounders": {}}
    for spec in args.grounder or [""]:
        grounder = build_grounder(spec, GrounderConfig(score_threshold=0.0))
        t0 = time.perf_counter()
        runs = {k: [top_per_frame(grounder, d, args.frames) for d in dirs] for k, dirs in sets.items()}
        chosen = choose_threshold(runs) if args.choose_threshold else None
        threshold = args.threshold if args.threshold is not None else (chosen if chosen is not None else 0.3)
        entry = {"threshold": threshold, "chosen_threshold": chosen, "seconds": round(time.perf_counter() - t0, 1),
                 "at_threshold": {k: summarize(k, r, threshold) for k, r in runs.items()},
                 "sweep": {str(t): {k: summarize(k, r, t) for k, r in runs.items()} for t in SWEEP},
                 "top_scores_frame1": {k: [round(r[0][0], 3) for r in rs] for k, rs in runs.items()}}
        named = [entry["at_threshold"][k] for k in NAMED]
        entry["overall_named"] = {m: float(np.mean([x[m] for x in named])) for m in
                                  ("top_on_target", "start_on_target_frame1", "start_on_target", "no_start")}
        report["grounders"][spec or "default"] = entry
        print_table(spec or "default", entry)
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def print_table(name: str, entry: dict) -> None:
    at = entry["at_threshold"]
    lines = [f"grounder {name}: threshold {entry['threshold']} (chosen: {entry['chosen_threshold']})",
             f"{'kind':<12} {'top on target':>14} {'start@f1':>9} {'start@N':>8} {'no start':>9}"]
    for k in NAMED:
        r = at[k]
        lines.append(f"{k:<12} {r['top_on_target']:>14.3f} {r['start_on_target_frame1']:>9.3f} "
                     f"{r['start_on_target']:>8.3f} {r['no_start']:>9.3f}")
    o = entry["overall_named"]
    lines.append(f"{'overall':<12} {o['top_on_target']:>14.3f} {o['start_on_target_frame1']:>9.3f} "
                 f"{o['start_on_target']:>8.3f} {o['no_start']:>9.3f}")
    a = at["absent"]
    lines.append(f"absent: refused on frame 1 {a['refused_frame1']:.3f}, over the first N frames {a['refused']:.3f}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
