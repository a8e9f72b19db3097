"""``allinone-make-synthetic``: write seeded synthetic UAV vision-language sequences (LaSOT layout)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from ..data.synthetic import SyntheticConfig, generate_dataset
from .common import cli_main

PROG = "allinone-make-synthetic"


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``640x360``) for argparse."""
    parts = text.lower().split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must be WxH integers such as 640x360, got {text!r}") from exc
    return width, height


def build_parser() -> argparse.ArgumentParser:
    defaults = SyntheticConfig()
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Write synthetic drone-view tracking sequences with sentences, in LaSOT layout "
        "(<out>/<class>/<class>-<k>/img/%%08d.jpg, groundtruth.txt, nlp.txt, flags, meta.json).",
    )
    p.add_argument("--out", type=Path, required=True, help="dataset root directory")
    p.add_argument("--num-sequences", type=int, default=defaults.num_sequences, help="number of sequences")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same seed -> same files)")
    p.add_argument("--frames", type=int, default=defaults.num_frames, help="frames per sequence")
    p.add_argument(
        "--size", type=parse_size, default=(defaults.frame_width, defaults.frame_height), help="frame size WxH"
    )
    p.add_argument(
        "--with-distractor",
        action="store_true",
        help="always add a distractor of the target's shape in another colour next to the target",
    )
    p.add_argument("--class-name", default=defaults.class_name, help="LaSOT class directory name")
    p.add_argument("--occlusion-prob", type=float, default=defaults.occlusion_prob, help="per-sequence probability")
    p.add_argument("--out-of-view-prob", type=float, default=defaults.out_of_view_prob, help="per-sequence probability")
    p.add_argument("--overwrite", action="store_true", help="replace existing sequence directories")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _run(args: argparse.Namespace) -> int:
    width, height = args.size
    config = SyntheticConfig(
        num_sequences=args.num_sequences,
        num_frames=args.frames,
        frame_width=width,
        frame_height=height,
        seed=args.seed,
        class_name=args.class_name,
        occlusion_prob=args.occlusion_prob,
        out_of_view_prob=args.out_of_view_prob,
        same_shape_distractor=args.with_distractor,
    )
    total = config.num_sequences * config.num_frames
    with tqdm(total=total, unit="frame", disable=args.no_progress, desc=PROG) as bar:
        try:
            dirs = generate_dataset(args.out, config, overwrite=args.overwrite, progress=bar.update)
        except FileExistsError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
    print(f"wrote {len(dirs)} sequences under {Path(args.out) / config.class_name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
