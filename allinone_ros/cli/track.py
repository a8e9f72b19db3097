"""``allinone-track``: run the tracker over a sequence directory, a video file or an image topic of a rosbag2 bag.

With ``--bag`` the frames are the images of ``--image-topic`` (Image or CompressedImage; sqlite3 or mcap
storage) and ``--output-bag`` writes the results as ``allinone_ros/TrackedTarget`` messages stamped with
the input images' headers.
"""
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

from ..data.bag import STORAGES, BagFrame, TargetRecord, bag_image_topics, count_bag_frames, iter_bag_frames, \
    write_target_bag
from ..data.frames import iter_video, read_frame
from ..data.sequence import read_sequence_dir
from ..backends.backend_tracker import describe_tracker
from ..grounding import GrounderConfig, build_grounder
from ..lifecycle import TargetLifecycle, TargetResult, build_tracker
from ..lifecycle.offline import OfflineRun, PlainTracker, run_frames
from ..ops import box_files
from ..visualize import VideoSink, draw_box
from .common import (
    add_grounder_argument, add_plain_argument, add_tracker_arguments, backend_config, cli_main, lifecycle_config,
    parse_box, set_threads, tracker_config,
)

log = logging.getLogger("allinone-track")
PROG = "allinone-track"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Track one object through a sequence or video.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sequence", type=Path, help="LaSOT/TNL2K-style sequence directory (img/ or imgs/)")
    src.add_argument("--video", type=Path, help="video file")
    src.add_argument("--bag", type=Path,
                     help="rosbag2 bag (directory with metadata.yaml, or a .db3 / .mcap file); needs --image-topic")
    p.add_argument("--image-topic", default=None,
                   help="with --bag: the sensor_msgs/Image or sensor_msgs/CompressedImage topic to track on")
    p.add_argument("--output-bag", type=Path, default=None,
                   help="with --bag: write the results as a new bag of allinone_ros/TrackedTarget messages (topic "
                        "--target-topic) with the input images' stamps and frame ids")
    p.add_argument("--bag-storage", choices=STORAGES, default="mcap", help="storage of --output-bag (default mcap)")
    p.add_argument("--target-topic", default="/tracker_node/target", help="topic of --output-bag's messages")
    p.add_argument("--checkpoint", type=Path, default=None, help="model checkpoint (default: shipped model)")
    p.add_argument("--output", type=Path, default=None, help="write one x,y,w,h line per frame here")
    p.add_argument("--init-box", type=parse_box, default=None, help="initial box x,y,w,h (default: groundtruth line 1)")
    p.add_argument("--text", default=None, help="sentence describing the target (default: nlp.txt/language.txt)")
    p.add_argument("--save-video", type=Path, default=None, help="write an annotated video (.mp4 or .avi)")
    add_tracker_arguments(p, "CPU threads for torch and onnxruntime (0 = their defaults)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--nl-only", action="store_true",
                   help="start from the sentence alone: any initial box is ignored and the grounder finds the target")
    add_plain_argument(p, "to reproduce the paper", "written as 0,0,0,0")
    add_grounder_argument(p)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _check_bag_arguments(args: argparse.Namespace) -> None:
    if args.bag is None:
        for name in ("image_topic", "output_bag"):
            if getattr(args, name) is not None:
                raise ValueError(f"--{name.replace('_', '-')} needs --bag")
        return
    if not args.image_topic:
        topics = bag_image_topics(args.bag)
        raise ValueError(f"--bag needs --image-topic; image topics in {args.bag}: "
                         + (", ".join(f"{t} ({m})" for t, m in sorted(topics.items())) or "none"))
    if args.output_bag is not None and args.output_bag.exists():
        raise ValueError(f"--output-bag {args.output_bag} exists already; remove it or choose another path")


def _bag_frames(args: argparse.Namespace, inputs: list[BagFrame]) -> Iterator[np.ndarray]:
    """The bag's images; each one's stamp, frame id and time (pixels dropped) is appended to ``inputs``."""
    for frame in iter_bag_frames(args.bag, args.image_topic):
        inputs.append(BagFrame(frame.stamp_ns, frame.frame_id, frame.recorded_ns, np.empty((0, 0, 3), np.uint8)))
        yield frame.rgb


def _frames(args: argparse.Namespace,
            inputs: list[BagFrame]) -> tuple[Iterator[np.ndarray], int | None, np.ndarray | None, str]:
    """Frame iterator, frame count if known, initial box from the data, sentence from the data."""
    if args.sequence is not None:
        seq = read_sequence_dir(args.sequence)
        return (read_frame(p) for p in seq.frame_paths), len(seq), seq.init_box_xywh, seq.sentence
    if args.bag is not None:
        return _bag_frames(args, inputs), count_bag_frames(args.bag, args.image_topic), None, ""
    return iter_video(args.video), None, None, ""


def _write_outputs(args: argparse.Namespace, run: OfflineRun, inputs: list[BagFrame], sentence: str) -> None:
    """--output (one x,y,w,h row per frame, 0,0,0,0 without a box) and --output-bag (TrackedTarget messages
    as the node publishes them: LOST carries the last known box)."""
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(box_files.format_box_rows(run.boxes_xywh()))
    if args.output_bag is None:
        return
    records = []
    for src, result, latency in zip(inputs, run.results, run.frame_ms):
        shown = result.reported_box_xywh
        records.append(TargetRecord(src.stamp_ns, src.frame_id, src.recorded_ns, result.image_size,
                                    result.state.name.lower(),
                                    None if shown is None else tuple(float(v) for v in shown),  # type: ignore[arg-type]
                                    result.confidence, sentence, latency))
    count = write_target_bag(args.output_bag, records, args.bag_storage, args.target_topic)
    log.info("wrote %d TrackedTarget messages to %s (%s)", count, args.output_bag, args.bag_storage)


def _run(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    _check_bag_arguments(args)
    inputs: list[BagFrame] = []
    frames, total, data_box, data_text = _frames(args, inputs)
    init_box = None if args.nl_only else (args.init_box if args.init_box is not None else data_box)
    if init_box is None and not args.nl_only:
        source = "--video" if args.video is not None else "--bag"
        raise ValueError(f"{source} needs --init-box x,y,w,h (or --nl-only with --text)")
    text = args.text if args.text is not None else data_text
    if args.nl_only and not text.strip():
        raise ValueError("--nl-only needs a sentence: pass --text or use a sequence with nlp.txt/language.txt")
    if args.plain and args.nl_only:
        raise ValueError("--plain starts from a box only; drop --nl-only or --plain")
    tracker = build_tracker(args.checkpoint, tracker_config(args), backend_config(args),
                            trust=args.trust_checkpoint)
    log.info("backend: %s", describe_tracker(tracker))
    if args.plain:
        runner: PlainTracker | TargetLifecycle = PlainTracker(tracker)
    else:
        grounder = build_grounder(args.grounder, GrounderConfig(device=args.device))
        if args.nl_only and grounder is None:
            raise ValueError("--nl-only needs a grounder; --grounder none was given")
        runner = TargetLifecycle(tracker, grounder, lifecycle_config(args))
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
    _write_outputs(args, run, inputs, text)
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
