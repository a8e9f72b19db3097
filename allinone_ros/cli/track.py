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
from ..backends.fast_tracker import describe_tracker
from ..grounding import GrounderConfig, build_grounder
from ..lifecycle import LifecycleConfig, TargetLifecycle, TargetResult, build_tracker
from ..lifecycle.offline import PlainTracker, run_frames
from ..tracker import TrackerConfig
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
                   help="start from the sentence alone: any initial box is ignored and the grounder finds the target")
    p.add_argument("--plain", action="store_true",
                   help="the released tracker as published (a box on every frame, no loss detection), to reproduce "
                        "the paper; default: the node's target lifecycle (no box while LOST, written as 0,0,0,0)")
    p.add_argument("--grounder", default="",
                   help="'' = the shipped built-in grounder, 'none', a .safetensors grounder checkpoint or a "
                        "transformers Grounding DINO / OWLv2 model directory (sentence starts and re-finding a lost "
                        "target)")
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
    if args.plain and args.nl_only:
        raise ValueError("--plain starts from a box only; drop --nl-only or --plain")
    tracker = build_tracker(args.checkpoint, TrackerConfig(device=args.device), backend_config(args),
                            trust=args.trust_checkpoint)
    log.info("backend: %s", describe_tracker(tracker))
    if args.plain:
        runner: PlainTracker | TargetLifecycle = PlainTracker(tracker)
    else:
        grounder = build_grounder(args.grounder, GrounderConfig(device=args.device))
        if args.nl_only and grounder is None:
            raise ValueError("--nl-only needs a grounder; --grounder none was given")
        runner = TargetLifecycle(tracker, grounder, LifecycleConfig())
    sink = VideoSink(args.save_video) if args.save_video else None
    states: Counter[str] = Counter()
    size: list[tuple[int, int]] = []
    bar = tqdm(total=total, unit="frame", disable=args.no_progress, file=sys.stderr)

    def on_frame(i: int, frame: np.ndarray, result: TargetResult) -> None:
        if size and frame.shape[:2] != size[-1]:
            log.warning("frame %d is %dx%d, previous frames were %dx%d; tracking continues",
                        i + 1, frame.shape[1], frame.shape[0], size[-1][1], size[-1][0])
        size.append(frame.shape[:2])
        states[result.state.name] += 1
        if sink is not None:
            label = f"{result.confidence:.2f}" if args.plain else f"{result.state.name} {result.confidence:.2f}"
            sink.write(draw_box(frame, result.box_xywh, label=label) if result.box_xywh is not None else frame)
        bar.update(1)

    t_start = time.perf_counter()
    try:
        run = run_frames(runner, frames, text, init_box, on_frame)
    finally:
        bar.close()
        if sink is not None:
            sink.close()
    elapsed = time.perf_counter() - t_start
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(args.output, run.boxes_xywh(), fmt="%.4f", delimiter=",")
    _print_summary(run.results, elapsed, describe_tracker(tracker), states)
    return 0


def _print_summary(results: list[TargetResult], elapsed: float, backend: str, states: Counter[str]) -> None:
    stages: dict[str, list[float]] = {"crop": [], "model": [], "post": []}
    for r in results:
        for k, v in r.timings_ms.items():
            stages.setdefault(k, []).append(v)
    line = f"{len(results)} frames in {elapsed:.2f} s ({len(results) / max(elapsed, 1e-9):.1f} FPS, {backend})"
    if stages["model"]:
        per = {k: float(np.mean(v)) for k, v in stages.items() if v}
        line += (f"; per tracked frame: crop {per['crop']:.1f} ms, model {per['model']:.1f} ms, "
                 f"post {per['post']:.1f} ms")
    line += "; frames per state: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    print(line, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
