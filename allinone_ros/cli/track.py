"""``allinone-track``: run the tracker over a sequence directory or a video file."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.frames import iter_video, read_frame
from ..data.sequence import read_sequence_dir
from ..grounding import GrounderConfig, build_grounder
from ..backends.fast_tracker import build_backend_tracker, describe_tracker
from ..tracker import TrackerConfig
from ..tracker.lost import ManagedTracker
from ..visualize import VideoSink, draw_box
from .common import TRUST_CHECKPOINT_HELP, add_backend_arguments, backend_config, cli_main, parse_box, set_threads

log = logging.getLogger("allinone-track")
PROG = "allinone-track"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Track one object through a sequence or video.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sequence", type=Path, help="LaSOT/TNL2K-style sequence directory (img/ or imgs/)")
    src.add_argument("--video", type=Path, help="video file")
    p.add_argument("--checkpoint", type=Path, default=None, help="model checkpoint (default: shipped model)")
    p.add_argument("--output", type=Path, default=None, help="write one x,y,w,h line per frame here")
    p.add_argument("--init-box", type=parse_box, default=None, help="initial box x,y,w,h (default: groundtruth line 1)")
    p.add_argument("--text", default=None, help="sentence describing the target (default: nlp.txt/language.txt)")
    p.add_argument("--save-video", type=Path, default=None, help="write an annotated video (.mp4 or .avi)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch and onnxruntime (0 = their defaults)")
    add_backend_arguments(p)
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_CHECKPOINT_HELP)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--nl-only", action="store_true",
                   help="start from the sentence alone: any initial box is ignored and the grounder finds the target "
                        "(runs the lost-target state machine)")
    p.add_argument("--lost-loop", action="store_true",
                   help="run the lost-target state machine: no box while lost (written as 0,0,0,0), re-search and "
                        "re-grounding")
    p.add_argument("--grounder", default="",
                   help="for --nl-only / --lost-loop: '' = the shipped built-in grounder, 'none', a .safetensors "
                        "grounder checkpoint or a transformers Grounding DINO / OWLv2 model directory")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _frames(args: argparse.Namespace) -> tuple[Iterator[np.ndarray], int | None, np.ndarray | None, str]:
    """Frame iterator, frame count if known, initial box from the data, sentence from the data."""
    if args.sequence is not None:
        seq = read_sequence_dir(args.sequence)
        return (read_frame(p) for p in seq.frame_paths), len(seq), seq.init_box_xywh, seq.sentence
    return iter_video(args.video), None, None, ""


def _run(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    frames, total, data_box, data_text = _frames(args)
    init_box = None if args.nl_only else (args.init_box if args.init_box is not None else data_box)
    if init_box is None and not args.nl_only:
        raise ValueError("--video needs --init-box x,y,w,h (or --nl-only with --text)")
    text = args.text if args.text is not None else data_text
    if args.nl_only and not text.strip():
        raise ValueError("--nl-only needs a sentence: pass --text or use a sequence with nlp.txt/language.txt")
    tracker = build_backend_tracker(args.checkpoint, TrackerConfig(device=args.device), backend_config(args),
                                    trust=args.trust_checkpoint)
    log.info("backend: %s", describe_tracker(tracker))
    if args.nl_only or args.lost_loop:
        grounder = build_grounder(args.grounder, GrounderConfig(device=args.device))
        if args.nl_only and grounder is None:
            raise ValueError("--nl-only needs a grounder; --grounder none was given")
        return _run_managed(args, ManagedTracker(tracker, grounder), frames, total, init_box, text)
    sink = VideoSink(args.save_video) if args.save_video else None
    boxes: list[np.ndarray] = []
    stages: dict[str, list[float]] = {"crop": [], "model": [], "post": []}
    size: tuple[int, int] | None = None
    t_start = time.perf_counter()
    bar = tqdm(total=total, unit="frame", disable=args.no_progress, file=sys.stderr)
    try:
        for i, frame in enumerate(frames):
            if size is not None and frame.shape[:2] != size:
                log.warning("frame %d is %dx%d, previous frames were %dx%d; tracking continues",
                            i + 1, frame.shape[1], frame.shape[0], size[1], size[0])
            size = frame.shape[:2]
            result = tracker.initialize(frame, init_box, text) if i == 0 else tracker.track(frame)
            for k, v in result.timings_ms.items():
                stages[k].append(v)
            boxes.append(result.box_xywh)
            if sink is not None:
                sink.write(draw_box(frame, result.box_xywh, label=f"{result.confidence:.2f}"))
            bar.update(1)
    finally:
        bar.close()
        if sink is not None:
            sink.close()
    elapsed = time.perf_counter() - t_start
    if not boxes:
        raise ValueError("no frames to track")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(args.output, np.stack(boxes), fmt="%.4f", delimiter=",")
    n = len(stages["model"])
    if n:
        per = {k: float(np.mean(v)) for k, v in stages.items()}
        total_ms = sum(per.values())
        print(f"{len(boxes)} frames in {elapsed:.2f} s ({describe_tracker(tracker)}); per tracked frame: "
              f"crop {per['crop']:.1f} ms, model {per['model']:.1f} ms, post {per['post']:.1f} ms, total {total_ms:.1f} ms "
              f"({1000.0 / total_ms:.1f} FPS)", file=sys.stderr)
    return 0


def _run_managed(args: argparse.Namespace, managed: ManagedTracker, frames: Iterator[np.ndarray], total: int | None,
                 init_box: np.ndarray | None, text: str) -> int:
    """Track with the lost-target state machine; frames without a box are written as 0,0,0,0."""
    sink = VideoSink(args.save_video) if args.save_video else None
    boxes: list[np.ndarray] = []
    states: Counter[str] = Counter()
    t_start = time.perf_counter()
    bar = tqdm(total=total, unit="frame", disable=args.no_progress, file=sys.stderr)
    try:
        for i, frame in enumerate(frames):
            result = managed.start(frame, text, init_box) if i == 0 else managed.step(frame)
            states[result.state.value] += 1
            boxes.append(result.box_xywh if result.box_xywh is not None else np.zeros(4))
            if sink is not None:
                shown = draw_box(frame, result.box_xywh, label=f"{result.state.value} {result.confidence:.2f}") \
                    if result.box_xywh is not None else frame
                sink.write(shown)
            bar.update(1)
    finally:
        bar.close()
        if sink is not None:
            sink.close()
    if not boxes:
        raise ValueError("no frames to track")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(args.output, np.stack(boxes), fmt="%.4f", delimiter=",")
    elapsed = time.perf_counter() - t_start
    print(f"{len(boxes)} frames in {elapsed:.2f} s ({len(boxes) / elapsed:.1f} FPS, "
          f"{describe_tracker(managed.tracker)}); frames per state: "
          + ", ".join(f"{k} {v}" for k, v in sorted(states.items())), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
