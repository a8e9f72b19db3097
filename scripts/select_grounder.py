#!/usr/bin/env python3
"""Pick the built-in grounder of a training run on a validation set and export it.

Reproducible from the repository root (after ``allinone-train-grounder``)::

    .venv/bin/python scripts/select_grounder.py --run runs/grounder_uav \\
        --out models/text_grounder_uav_small.safetensors

Every epoch checkpoint of the run (``RUN/checkpoints/epoch_*.pt``) is scored on the first frames
of a validation set of synthetic sequences with a same-shape distractor of another colour
(``--val-seed``, default 501; generated under ``--data-root`` when missing; training used seeds
1, 2 and 11-14, the tests 1000 and 1001): a sequence is a *hit* when the best candidate scoring
``--ground-threshold`` or more overlaps the target with IoU > 0.5, which is what starting from
the sentence alone needs. The checkpoint with the highest hit rate (the later one on a tie) is
written as a strict ``.safetensors`` grounder checkpoint with the run's experiment and the
validation numbers in its metadata.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from allinone_ros.config_io import to_dict
from allinone_ros.data.frames import read_frame
from allinone_ros.evaluation.synthetic_sets import ensure_dataset
from allinone_ros.grounding import GrounderConfig
from allinone_ros.grounding.builtin import BuiltinGrounder, save_grounder
from allinone_ros.grounding.net import TextGrounderNet, TokenEncoder
from allinone_ros.ops.iou import box_iou_xywh as box_iou
from allinone_ros.training.grounding import load_grounding_experiment

log = logging.getLogger("select_grounder")


def first_frame_hits(grounder: BuiltinGrounder, frames: list, boxes: list, sentences: list[str],
                     threshold: float) -> list[bool]:
    hits = []
    for frame, box, sentence in zip(frames, boxes, sentences):
        found = [c for c in grounder.ground(frame, sentence) if c.score >= threshold]
        hits.append(bool(found) and box_iou(found[0].box_xywh, box) > 0.5)
    return hits


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="run directory of allinone-train-grounder")
    p.add_argument("--config", type=Path, default=Path("config/train_grounder_uav.yaml"),
                   help="the run's experiment YAML (builds the network)")
    p.add_argument("--out", type=Path, default=None, help="write the chosen checkpoint here (.safetensors)")
    p.add_argument("--data-root", type=Path, default=Path("out/synthetic"))
    p.add_argument("--val-seed", type=int, default=501)
    p.add_argument("--val-sequences", type=int, default=60)
    p.add_argument("--ground-threshold", type=float, default=0.3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)

    exp = load_grounding_experiment(args.config)
    ckpts = sorted((args.run / "checkpoints").glob("epoch_*.pt"))
    if not ckpts:
        log.error("no epoch checkpoints in %s/checkpoints", args.run)
        return 2
    seqs = ensure_dataset(args.data_root / f"uav_val_distractor_s{args.val_seed}", args.val_seed,
                          args.val_sequences, 20, with_distractor=True)
    frames = [read_frame(s.frame_paths[0]) for s in seqs]
    boxes = [s.boxes_xywh[0] for s in seqs]
    sentences = [s.sentence for s in seqs]
    text = TokenEncoder(exp.model.text_model_dir, exp.model.text_max_len)
    results = []
    for path in ckpts:
        net = TextGrounderNet(exp.model)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"], strict=True)
        grounder = BuiltinGrounder(net, GrounderConfig(), text=text)
        rate = sum(first_frame_hits(grounder, frames, boxes, sentences, args.ground_threshold)) / len(seqs)
        log.info("%s: first-frame hit rate %.3f", path.name, rate)
        results.append((rate, path, net))
    rate, best, net = max(results, key=lambda r: (r[0], r[1].name))
    report = {"chosen": best.name, "val_seed": args.val_seed, "val_sequences": len(seqs),
              "ground_threshold": args.ground_threshold,
              "hit_rate_by_epoch": {r[1].name: r[0] for r in results}}
    if args.out is not None:
        save_grounder(args.out, net, {"experiment": to_dict(exp), "validation": report,
                                      "epochs": int(best.stem.split("_")[-1])})
        log.info("wrote %s (%s, hit rate %.3f)", args.out, best.name, rate)
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
