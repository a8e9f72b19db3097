"""Tables (CSV, markdown) and curve plots (PNG) comparing trackers.

Scores are written in percent. Plots use matplotlib's Agg canvas directly, so
no display and no global backend switch are needed.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Callable, Mapping, Sequence as SequenceT

import numpy as np

from allinone_ros.evaluation.metrics import (
    NORM_PRECISION_THRESHOLDS,
    PRECISION_INDEX_20PX,
    PRECISION_THRESHOLDS_PX,
    SUCCESS_THRESHOLDS,
    SequenceResult,
    Summary,
)

LOGGER = logging.getLogger(__name__)

# (column header, getter, is a percentage)
METRIC_COLUMNS: list[tuple[str, Callable[[Summary], float | None], bool]] = [
    ("AUC", lambda s: s.auc, True),
    ("P@20px", lambda s: s.precision_20, True),
    ("nP", lambda s: s.norm_precision, True),
    ("cAUC", lambda s: s.cauc, True),
    ("mAcc", lambda s: s.macc, True),
    ("SR@0.5", lambda s: s.success_rate_050, True),
    ("FPS", lambda s: s.fps, False),
]
# GOT-10k (got10k protocol): pooled average overlap and success rates; shown only when set
GOT10K_COLUMNS: list[tuple[str, Callable[[Summary], float | None], bool]] = [
    ("AO", lambda s: s.ao, True),
    ("SR@0.75", lambda s: s.sr_075, True),
]

PLOTS: dict[str, tuple[str, np.ndarray, str, str, str]] = {
    # file stem: (curve attribute, thresholds, title, x label, legend score)
    "success": ("success_curve", SUCCESS_THRESHOLDS, "Success plot (OPE)", "Overlap threshold", "auc"),
    "precision": (
        "precision_curve",
        PRECISION_THRESHOLDS_PX,
        "Precision plot (OPE)",
        "Location error threshold (px)",
        "precision_20",
    ),
    "norm_precision": (
        "norm_precision_curve",
        NORM_PRECISION_THRESHOLDS,
        "Normalized precision plot (OPE)",
        "Normalized location error threshold",
        "norm_precision",
    ),
    "complete_success": (
        "complete_success_curve",
        SUCCESS_THRESHOLDS,
        "Complete success plot (CIoU)",
        "Complete-IoU threshold",
        "cauc",
    ),
}


def _fmt(value: float | None, percent: bool, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 100:.{digits}f}" if percent else f"{value:.{digits}f}"


def summary_table(summaries: Mapping[str, Summary], digits: int = 1) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per tracker, best AUC first); the protocol is the last column."""
    columns = list(METRIC_COLUMNS)
    if any(s.ao is not None for s in summaries.values()):
        columns[1:1] = GOT10K_COLUMNS
    header = ["Tracker", "Sequences"] + [name for name, _, _ in columns] + ["Protocol"]
    ordered = sorted(summaries.items(), key=lambda kv: -np.nan_to_num(kv[1].auc, nan=-1.0))
    rows = [
        [tracker, str(s.num_sequences)] + [_fmt(get(s), pct, digits) for _, get, pct in columns] + [s.protocol]
        for tracker, s in ordered
    ]
    return header, rows


def markdown_table(header: SequenceT[str], rows: SequenceT[SequenceT[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, header: SequenceT[str], rows: SequenceT[SequenceT[str]]) -> Path:
    """Write a CSV file with a header row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_summary(out_dir: Path, summaries: Mapping[str, Summary], notes: SequenceT[str] = ()) -> tuple[Path, Path]:
    """``summary.csv`` (3 decimals) and ``summary.md`` (1 decimal, with notes)."""
    header, rows = summary_table(summaries, digits=3)
    csv_path = write_csv(out_dir / "summary.csv", header, rows)
    md_header, md_rows = summary_table(summaries, digits=1)
    text = "# Tracking results\n\nScores in percent; FPS in frames per second.\n\n" + markdown_table(md_header, md_rows)
    if notes:
        text += "\n" + "".join(f"- {note}\n" for note in notes)
    md_path = out_dir / "summary.md"
    md_path.write_text(text)
    return csv_path, md_path


def attribute_table(
    by_tracker: Mapping[str, Mapping[str, Summary]], digits: int = 1
) -> tuple[list[str], list[list[str]]]:
    """Rows per attribute: number of sequences then AUC of each tracker."""
    trackers = list(by_tracker)
    attrs = sorted({a for per in by_tracker.values() for a in per})
    header = ["Attribute", "Sequences"] + [f"{t} AUC" for t in trackers]
    rows = []
    for attr in attrs:
        counts = {by_tracker[t][attr].num_sequences for t in trackers if attr in by_tracker[t]}
        row = [attr, "/".join(str(c) for c in sorted(counts))]
        row += [_fmt(by_tracker[t][attr].auc, True, digits) if attr in by_tracker[t] else "-" for t in trackers]
        rows.append(row)
    return header, rows


def write_attributes(
    out_dir: Path, by_tracker: Mapping[str, Mapping[str, Summary]], protocol: str = ""
) -> tuple[Path, Path]:
    """``attributes.csv`` and ``attributes.md`` (the markdown names the protocol)."""
    header, rows = attribute_table(by_tracker, digits=3)
    csv_path = write_csv(out_dir / "attributes.csv", header, rows)
    md_header, md_rows = attribute_table(by_tracker, digits=1)
    md_path = out_dir / "attributes.md"
    title = "# Success AUC (%) per attribute" + (f" (protocol {protocol})" if protocol else "")
    md_path.write_text(title + "\n\n" + markdown_table(md_header, md_rows))
    return csv_path, md_path


def write_per_sequence(out_dir: Path, results: Mapping[str, Mapping[str, SequenceResult]]) -> Path:
    """``per_sequence.csv``: tracker, sequence, frames, counted frames, AUC, P@20px, mAcc (percent)."""
    header = ["Tracker", "Sequence", "Frames", "Counted", "AUC", "P@20px", "mAcc", "FPS"]
    rows = []
    for tracker, per_seq in results.items():
        for name, r in per_seq.items():
            rows.append(
                [
                    tracker,
                    name,
                    str(r.num_frames),
                    str(r.num_counted),
                    _fmt(r.auc, True, 3),
                    _fmt(float(r.precision_curve[PRECISION_INDEX_20PX]), True, 3),
                    _fmt(r.accuracy, True, 3),
                    _fmt(r.fps, False, 3),
                ]
            )
    return write_csv(out_dir / "per_sequence.csv", header, rows)


def plot_curves(
    path: Path,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]],
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """Save a PNG with one line per tracker; ``curves`` maps name -> (x, y, score in [0, 1])."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("matplotlib is needed for plots (pip install matplotlib)") from None

    fig = Figure(figsize=(6.0, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    styles = ["-", "--", "-.", ":"]
    ordered = sorted(curves.items(), key=lambda kv: -np.nan_to_num(kv[1][2], nan=-1.0))
    for i, (name, (x, y, score)) in enumerate(ordered):
        ax.plot(x, y, styles[(i // 10) % len(styles)], linewidth=2, label=f"{name} [{_fmt(score, True, 1)}]")
    all_x = np.concatenate([np.asarray(c[0], dtype=float) for c in curves.values()]) if curves else np.array([0.0, 1.0])
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(float(all_x.min()), float(all_x.max())), ylim=(0.0, 1.0))
    ax.grid(True, linestyle=":")
    if curves:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def write_plots(out_dir: Path, summaries: Mapping[str, Summary], suffix: str = "") -> list[Path]:
    """Success, precision, normalised-precision and complete-success PNGs."""
    paths = []
    for stem, (attr, thresholds, title, xlabel, score_attr) in PLOTS.items():
        curves = {name: (thresholds, getattr(s, attr), getattr(s, score_attr)) for name, s in summaries.items()}
        ylabel = title.split(" plot")[0]
        paths.append(plot_curves(out_dir / f"{stem}{suffix}.png", curves, title, xlabel, ylabel))
    LOGGER.info("wrote %d plots to %s", len(paths), out_dir)
    return paths
