"""``allinone-eval``: one-pass evaluation of a checkpoint over a dataset, then scoring."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tqdm import tqdm

from ..data.datasets import DATASET_KINDS, normalize_kind, open_dataset
from ..data.detect import detect_dataset_kind
from ..data.sequence import Sequence
from ..evaluation.runner import MODES, EvalJob, run_evaluation
from ..evaluation.protocols import DATASET_DEFAULT_PROTOCOL, PROTOCOLS
from ..evaluation.results import open_results
from .common import (
    add_grounder_argument, add_plain_argument, add_tracker_arguments, backend_config, cli_main, lifecycle_config,
    tracker_config,
)
from .metrics import ScoreRequest, score

PROG = "allinone-eval"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Run the tracker over a dataset and score it (OPE).")
    p.add_argument("--dataset-root", required=True, type=Path,
                   help="dataset root directory, or a folder of rosbag2 bags (kind rosbag2; see --image-topic)")
    p.add_argument("--kind", help=f"dataset kind ({', '.join(DATASET_KINDS)}); detected when omitted "
                                  "(generated synthetic sets use the LaSOT layout)")
    p.add_argument("--image-topic", default=None,
                   help="kind rosbag2: the Image / CompressedImage topic of the bags (each bag <name> with "
                        "<name>.groundtruth.txt and optionally <name>.nlp.txt beside it)")
    p.add_argument("--split", help="dataset split (e.g. test), or a file listing sequence names (LaSOT)")
    p.add_argument("--sequences", help="comma-separated sequence names, or @FILE with one name per line")
    p.add_argument("--checkpoint", type=Path, default=None, help="model checkpoint (default: shipped model)")
    p.add_argument("--out", required=True, type=Path, help="output directory (results in OUT/<name>/)")
    p.add_argument("--name", default=None, help="tracker name for the result directory (default: checkpoint stem)")
    p.add_argument("--mode", choices=MODES, default="box+nl",
                   help="initialisation: box+nl (box and sentence), box (no sentence), nl (sentence alone: "
                        "the grounder finds the target; frame 1 is tracked like every frame, though every "
                        "toolkit protocol scores it as the ground truth)")
    add_grounder_argument(p)
    add_plain_argument(p, "as the paper evaluates it", "states and confidences written for the long-term metrics")
    p.add_argument("--workers", type=int, default=1, help="sequences tracked in parallel (processes)")
    add_tracker_arguments(p, "torch and onnxruntime threads per worker (0 = cores / workers)")
    p.add_argument("--no-metrics", action="store_true", help="only write result files, do not score")
    p.add_argument("--protocol", choices=list(PROTOCOLS),
                   help="scoring protocol (official toolkit reproduced; default per dataset: "
                        + ", ".join(f"{k}={v}" for k, v in DATASET_DEFAULT_PROTOCOL.items()) + ")")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _select(sequences: list[Sequence], spec: str | None) -> list[Sequence]:
    if not spec:
        return sequences
    if spec.startswith("@"):
        names = [n.strip() for n in Path(spec[1:]).read_text(encoding="utf-8-sig").splitlines() if n.strip()]
    else:
        names = [n.strip() for n in spec.split(",") if n.strip()]
    by_name = {s.name: s for s in sequences}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown sequence name(s) {unknown[:10]}; the dataset has e.g. {list(by_name)[:5]}")
    return [by_name[n] for n in names]


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    kind = normalize_kind(args.kind) if args.kind else detect_dataset_kind(args.dataset_root)
    sequences = _select(open_dataset(kind, args.dataset_root, args.split, args.image_topic), args.sequences)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    job = EvalJob(checkpoint=str(args.checkpoint) if args.checkpoint else None,
                  tracker=tracker_config(args), backend=backend_config(args, threads), mode=args.mode,
                  threads=threads, trust_checkpoint=args.trust_checkpoint, grounder=args.grounder,
                  plain=args.plain, lifecycle=lifecycle_config(args))
    name = args.name or (args.checkpoint.name.split(".")[0] if args.checkpoint else "default")
    result_dir = args.out / name
    with tqdm(total=len(sequences), unit="seq", disable=args.no_progress, file=sys.stderr) as bar:
        bar.update(sum((result_dir / f"{s.name}.txt").is_file() for s in sequences))
        run_evaluation(sequences, job, result_dir, workers=args.workers, on_done=lambda _n: bar.update(1))
    if args.no_metrics:
        return 0
    return score(ScoreRequest(
        dataset_root=args.dataset_root, trackers=tuple(open_results({name: result_dir})), out=args.out / "report",
        kind=kind, split=args.split, image_topic=args.image_topic, protocol=args.protocol,
        skip_missing=bool(args.sequences), progress=not args.no_progress,
    ))


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
