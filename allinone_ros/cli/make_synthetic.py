"""``allinone-make-synthetic``: write seeded synthetic UAV vision-language sequences (LaSOT layout)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from ..data.synthetic import ABSENCE_KINDS, LOOKALIKE_KINDS, SyntheticConfig, generate_dataset
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


def _names(allowed: tuple[str, ...], what: str):
    """argparse type: comma-separated names (``-`` or ``_``), each one of ``allowed``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip().replace("-", "_") for part in text.split(","))
        unknown = [n for n in names if n not in allowed]
        if not names or unknown or "" in names:
            raise argparse.ArgumentTypeError(
                f"{what} must be a comma-separated list of {[a.replace('_', '-') for a in allowed]}, got {text!r}")
        return names

    return parse


def parse_range(text: str) -> tuple[int, int]:
    """Parse ``LO,HI`` (or a single ``N``) frame counts for argparse."""
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LO,HI frame counts such as 12,30, got {text!r}") from exc
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 1 <= parts[0] <= parts[1]:
        raise argparse.ArgumentTypeError(f"expected LO,HI with 1 <= LO <= HI, got {text!r}")
    return parts[0], parts[1]


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
    p.add_argument(
        "--distractor-kinds",
        type=_names(LOOKALIKE_KINDS, "--distractor-kinds"),
        default=(),
        metavar="KIND[,KIND...]",
        help="add look-alikes next to the target, one kind drawn per sequence: same-shape (target's shape, "
        "other colour), same-colour (target's colour, other shape), mixed (2-3 of both at once)",
    )
    p.add_argument(
        "--relation-sentence",
        action="store_true",
        help="the sentence always relates the target to the object next to it (e.g. 'the red car left of the "
        "red circle')",
    )
    p.add_argument(
        "--absent-sentence",
        action="store_true",
        help="nlp.txt names a colour/shape combination that no object of the scene has (meta.json: "
        "absent_sentence true, target_sentence the target's own)",
    )
    p.add_argument(
        "--absence",
        action="store_true",
        help="one episode in the middle of each sequence where the target is fully occluded or out of view "
        "(flags in full_occlusion.txt / out_of_view.txt); replaces the random spells",
    )
    p.add_argument(
        "--absence-frames",
        type=parse_range,
        default=defaults.absence_frames,
        metavar="LO,HI",
        help="length of the --absence episode in frames, drawn per sequence (default 12,30)",
    )
    p.add_argument(
        "--absence-kinds",
        type=_names(ABSENCE_KINDS, "--absence-kinds"),
        default=defaults.absence_kinds,
        metavar="KIND[,KIND...]",
        help="kinds of --absence episode, one drawn per sequence: occlusion, out-of-view (default: both)",
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
        lookalike_kinds=args.distractor_kinds,
        relation_sentence=args.relation_sentence,
        absent_sentence=args.absent_sentence,
        absence=args.absence,
        absence_frames=args.absence_frames,
        absence_kinds=args.absence_kinds,
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
