"""``allinone-metrics``: score result files of one or more trackers on a dataset.

Example::

    allinone-metrics --dataset-root /data/LaSOT --split test \\
        --results AllInOne=results/allinone OSTrack=results/ostrack --out reports/lasot

Writes ``summary.{csv,md}``, ``attributes.{csv,md}`` (when the dataset has
attributes), ``per_sequence.csv``, ``{success,precision,norm_precision,
complete_success}.png`` and ``conventions.txt`` to ``--out``.

``--protocol`` picks the official toolkit whose conventions are reproduced
(:mod:`allinone_ros.evaluation.protocols`); the default is the one the
dataset's paper tables use. Every report names it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from allinone_ros.cli.output_mode import use_output_umask
from allinone_ros.data.datasets import DATASET_KINDS, normalize_kind, open_dataset
from allinone_ros.data.detect import detect_dataset_kind
from allinone_ros.data.sequence import DatasetLayoutError, Sequence
from allinone_ros.evaluation.metrics import (
    DATASET_DEFAULT_PRESET,
    PRESETS,
    AbsentPolicy,
    Conventions,
    SequenceResult,
    Summary,
    ZeroSizePolicy,
    attribute_groups,
    default_conventions,
)
from allinone_ros.evaluation.longterm import (
    LONG_TERM_HEADER, evaluate_long_term, read_frame_report, summarize_long_term,
)
from allinone_ros.evaluation.protocols import (
    DATASET_DEFAULT_PROTOCOL,
    PROTOCOLS,
    ProtocolInput,
    default_protocol,
    evaluate_protocol,
    summarize_protocol,
    summarize_protocol_by_attribute,
)
from allinone_ros.evaluation.report import (
    markdown_table,
    summary_table,
    write_attributes,
    write_per_sequence,
    write_plots,
    write_summary,
)
from allinone_ros.evaluation.results import ResultsError, TrackerResults, open_results, parse_result_spec

PROG = "allinone-metrics"
LOG = logging.getLogger(PROG)


@dataclass(frozen=True)
class ScoreRequest:
    """What to score and how: the options of ``allinone-metrics`` as values (``allinone-eval`` builds one
    directly). ``None`` = the dataset's default (kind detected, its protocol and conventions)."""

    dataset_root: Path
    trackers: tuple[TrackerResults, ...]
    out: Path  # tables and plots
    kind: str | None = None
    split: str | None = None
    image_topic: str | None = None
    protocol: str | None = None
    conventions: str | None = None  # preset name, --protocol strict only
    zero_size: str | None = None  # ZeroSizePolicy value, --protocol strict only
    absent: str | None = None  # AbsentPolicy value, --protocol strict only
    skip_missing: bool = False
    progress: bool = True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Score tracker result files (OPE) on a dataset.")
    p.add_argument("--dataset-root", required=True, type=Path, help="dataset root directory")
    p.add_argument("--kind", help=f"dataset kind ({', '.join(DATASET_KINDS)}); detected when omitted")
    p.add_argument("--split", help="dataset split (e.g. test), or a file listing sequence names for LaSOT")
    p.add_argument("--image-topic", default=None, help="kind rosbag2 (a folder of bags): the image topic")
    p.add_argument("--results", nargs="+", required=True, metavar="NAME=DIR",
                   help="tracker name and its result directory (<seq>.txt files)")
    p.add_argument("--out", required=True, type=Path, help="output directory for tables and plots")
    p.add_argument("--protocol", choices=list(PROTOCOLS),
                   help="official toolkit whose conventions are reproduced (default per dataset: "
                        + ", ".join(f"{k}={v}" for k, v in DATASET_DEFAULT_PROTOCOL.items()) + ")")
    p.add_argument("--conventions", choices=sorted(PRESETS),
                   help="--protocol strict only: conventions preset (default per dataset: "
                        + ", ".join(f"{k}={v}" for k, v in DATASET_DEFAULT_PRESET.items()) + ")")
    p.add_argument("--zero-size", choices=[z.value for z in ZeroSizePolicy],
                   help="--protocol strict only: replace zero-size predictions by the previous box, or keep them")
    p.add_argument("--absent", choices=[a.value for a in AbsentPolicy],
                   help="--protocol strict only: how frames without a visible target are scored")
    p.add_argument("--skip-missing", action="store_true",
                   help="score only the sequences every tracker has results for (default: error)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _parse_results(parser: argparse.ArgumentParser, specs: list[str]) -> list[TrackerResults]:
    dirs: dict[str, Path] = {}
    for spec in specs:
        try:
            name, directory = parse_result_spec(spec)
        except ResultsError as exc:
            parser.error(str(exc))
        if name in dirs:
            parser.error(f"tracker name {name!r} given twice in --results")
        dirs[name] = directory
    try:
        return open_results(dirs)
    except ResultsError as exc:
        parser.error(str(exc))
    raise AssertionError("unreachable")


def _conventions(args: ScoreRequest, kind: str) -> Conventions:
    base = PRESETS[args.conventions] if args.conventions else default_conventions(kind)
    return Conventions(
        zero_size=ZeroSizePolicy(args.zero_size) if args.zero_size else base.zero_size,
        absent=AbsentPolicy(args.absent) if args.absent else base.absent,
        first_frame_groundtruth=base.first_frame_groundtruth,
    )


def _select_sequences(sequences: list[Sequence], trackers: list[TrackerResults], skip_missing: bool) -> list[Sequence]:
    missing = {t.name: [s.name for s in sequences if not t.has(s.name)] for t in trackers}
    if not any(missing.values()):
        return sequences
    if not skip_missing:
        details = "; ".join(
            f"{t.name} ({t.directory}) lacks {len(m)}: {', '.join(m[:5])}{' ...' if len(m) > 5 else ''}"
            for t in trackers
            if (m := missing[t.name])
        )
        raise ResultsError(f"missing result files: {details} (use --skip-missing to score the common subset)")
    lacking = {n for m in missing.values() for n in m}
    kept = [s for s in sequences if s.name not in lacking]
    LOG.warning("scoring %d of %d sequences that every tracker has results for", len(kept), len(sequences))
    if not kept:
        raise ResultsError("no sequence has results from every tracker")
    return kept


def _score(
    tracker: TrackerResults, sequences: list[Sequence], protocol: str, kind: str, conventions: Conventions,
    progress: bool,
) -> dict[str, SequenceResult]:
    rows: dict[str, ProtocolInput] = {}
    for seq in tqdm(sequences, desc=tracker.name, unit="seq", disable=not progress, file=sys.stderr):
        boxes, zero_lines = tracker.rows(seq.name)
        rows[seq.name] = ProtocolInput(boxes, zero_lines, tracker.times(seq.name))
    try:
        return evaluate_protocol(protocol, kind, sequences, rows, conventions)
    except ValueError as exc:
        raise ResultsError(f"tracker {tracker.name!r} ({tracker.directory}): {exc}") from None


def _protocol(args: ScoreRequest, kind: str) -> str:
    protocol = args.protocol or default_protocol(kind)
    overrides = [f"--{n.replace('_', '-')}" for n in ("conventions", "zero_size", "absent") if getattr(args, n)]
    if overrides and protocol != "strict":
        raise ValueError(f"{', '.join(overrides)} only apply to --protocol strict (protocol is {protocol})")
    return protocol


def _notes(args: ScoreRequest, kind: str, protocol: str, conventions: Conventions, n: int) -> list[str]:
    spec = PROTOCOLS[protocol]
    notes = [
        f"dataset: {kind} at {args.dataset_root}" + (f", split {args.split}" if args.split else "") + f", {n} sequences",
        f"protocol: {protocol} ({spec.description})"
        + ("" if args.protocol else f"; default for {kind}"),
    ]
    if protocol == "strict":
        notes.append(f"conventions: {conventions.describe()}")
    scalar = "value at 0.20" if spec.norm_precision == "at_020" else "mean over 51 thresholds 0-0.5"
    notes.append(f"nP = normalised precision, {scalar} (as {protocol} reports it)")
    if protocol not in ("webuav-mmot", "strict"):
        notes.append(f"cAUC and mAcc: not defined by {protocol} (-)")
    if protocol == "got10k" and kind == "got10k":
        notes.append("GOT-10k: AO and SR over all frames pooled (frame 1 dropped, boxes clipped to the image, "
                     "cover > 0); AUC = mean of that pooled success curve at 21 thresholds")
    return notes


def _long_term(trackers: list[TrackerResults], sequences: list[Sequence], out: Path) -> str:
    """Long-term figures per tracker (evaluation.longterm), written to long_term.md / long_term.json."""
    rows, payload = [], {}
    for tracker in trackers:
        per_seq = []
        for seq in sequences:
            report = read_frame_report(tracker.directory, seq.name, tracker.boxes(seq.name))
            per_seq.append(evaluate_long_term(seq.name, seq.boxes_xywh, report, ~seq.visible))
        summary = summarize_long_term(per_seq)
        rows.append([tracker.name, *summary.table_row()])
        payload[tracker.name] = summary.as_dict()
    text = ("Long-term (frame 1 excluded; absent = not visible in the ground truth; percentages):\n"
            + markdown_table(["tracker", *LONG_TERM_HEADER], rows))
    (out / "long_term.md").write_text(text)
    (out / "long_term.json").write_text(json.dumps(payload, indent=1) + "\n")
    return text


def score(args: ScoreRequest) -> int:
    """Score every tracker of ``args`` on the dataset, write the tables and plots to ``args.out`` and
    print the summary; raises the dataset's and the results' errors (ValueError subclasses, OSError)."""
    trackers = list(args.trackers)
    kind = normalize_kind(args.kind) if args.kind else detect_dataset_kind(args.dataset_root)
    protocol = _protocol(args, kind)
    sequences = open_dataset(kind, args.dataset_root, args.split, args.image_topic)
    sequences = _select_sequences(sequences, trackers, args.skip_missing)
    conventions = _conventions(args, kind)
    progress = args.progress

    per_seq: dict[str, dict[str, SequenceResult]] = {}
    summaries: dict[str, Summary] = {}
    by_attr: dict[str, dict[str, Summary]] = {}
    groups = attribute_groups(sequences)
    for tracker in trackers:
        per_seq[tracker.name] = _score(tracker, sequences, protocol, kind, conventions, progress)
        summaries[tracker.name] = summarize_protocol(protocol, per_seq[tracker.name].values())
        by_attr[tracker.name] = summarize_protocol_by_attribute(protocol, per_seq[tracker.name], groups)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    notes = _notes(args, kind, protocol, conventions, len(sequences))
    write_summary(out, summaries, notes)
    write_per_sequence(out, per_seq)
    if groups:
        write_attributes(out, by_attr, protocol)
    try:
        write_plots(out, summaries)
    except ImportError as exc:
        LOG.warning("plots skipped: %s", exc)
    (out / "conventions.txt").write_text("\n".join(notes) + "\n")

    header, rows = summary_table(summaries)
    print(markdown_table(header, rows), end="")
    long_term = _long_term(trackers, sequences, out)
    print(long_term, end="")
    for note in notes:
        print(f"  {note}")
    print(f"wrote tables and plots to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 0 on success, 2 on bad input (message on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    use_output_umask()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.kind:
        try:
            normalize_kind(args.kind)
        except ValueError as exc:
            parser.error(str(exc))
    request = ScoreRequest(
        dataset_root=args.dataset_root, trackers=tuple(_parse_results(parser, args.results)), out=args.out,
        kind=args.kind, split=args.split, image_topic=args.image_topic, protocol=args.protocol,
        conventions=args.conventions, zero_size=args.zero_size, absent=args.absent, skip_missing=args.skip_missing,
        progress=not args.no_progress,
    )
    try:
        return score(request)
    except (DatasetLayoutError, ResultsError, ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
