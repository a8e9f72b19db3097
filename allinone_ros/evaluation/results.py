"""Tracker result files: one directory per tracker, one file per sequence.

Layout of a tracker directory (compatible with got10k/pytracking readers)::

    <tracker_dir>/<seq>.txt          x,y,w,h per frame (box_xywh, comma separated)
    <tracker_dir>/<seq>_time.txt     seconds per frame, one per line (optional)

Readers also accept tab/space separated boxes, got10k's
``times/<seq>_time.txt``, a leading UTF-8 byte-order mark (stripped) and a line
holding a single ``0``: the Anti-UAV / WebUAV-3M way to say "target not
present"; it is read as the box 0,0,0,0 and remembered for mAcc
(:func:`read_result_rows`). Blank lines inside a file are errors. A runner writes with :func:`write_result` (atomic:
temporary file then rename, so an interrupted run never leaves a half file) and
skips finished sequences with :func:`has_result`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Union

import numpy as np

from allinone_ros.ops import box_files

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]
RESULT_SUFFIX = ".txt"
TIME_SUFFIX = "_time.txt"
STATE_SUFFIX = "_state.txt"  # one target state name per frame (allinone-eval, the target lifecycle)
CONFIDENCE_SUFFIX = "_confidence.txt"  # one confidence per frame
_SIDE_FILES = (TIME_SUFFIX, STATE_SUFFIX, CONFIDENCE_SUFFIX)
RESULT_BLANK_HINT = "write a single 0 to mark 'target not present'"


class ResultsError(ValueError):
    """A result file or directory is missing or malformed."""


def result_path(tracker_dir: PathLike, seq_name: str) -> Path:
    """``<tracker_dir>/<seq>.txt``."""
    return Path(tracker_dir) / f"{seq_name}{RESULT_SUFFIX}"


def time_path(tracker_dir: PathLike, seq_name: str) -> Path:
    """``<tracker_dir>/<seq>_time.txt``."""
    return Path(tracker_dir) / f"{seq_name}{TIME_SUFFIX}"


def has_result(tracker_dir: PathLike, seq_name: str) -> bool:
    """True when the box file of ``seq_name`` exists (for resuming a run)."""
    return result_path(tracker_dir, seq_name).is_file()


def write_result(
    tracker_dir: PathLike, seq_name: str, boxes_xywh: np.ndarray, times_s: Iterable[float] | None = None
) -> Path:
    """Write the boxes (and per-frame seconds) of one sequence; returns the box file path."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ResultsError(f"sequence {seq_name!r}: boxes must be (N, 4) box_xywh, got shape {boxes.shape}")
    directory = Path(tracker_dir)
    directory.mkdir(parents=True, exist_ok=True)
    if times_s is not None:
        times = np.asarray(list(times_s), dtype=np.float64)
        if times.shape != (boxes.shape[0],):
            raise ResultsError(f"sequence {seq_name!r}: {times.size} times for {boxes.shape[0]} boxes")
        box_files.write_text_atomic(time_path(directory, seq_name), "".join(f"{t:.6f}\n" for t in times))
    path = result_path(directory, seq_name)
    box_files.write_text_atomic(path, box_files.format_box_rows(boxes))
    return path


def read_result_rows(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` boxes and an ``(N,)`` mask of lines written as a single ``0`` (not-present marks)."""
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"{path}: result file not found")
    return box_files.read_box_rows(path, ResultsError, "result file", RESULT_BLANK_HINT, absent_marks=True)


def read_boxes_file(path: PathLike) -> np.ndarray:
    """Read ``x,y,w,h`` rows (comma, tab or space separated; ``nan`` allowed) as ``(N, 4)``."""
    return read_result_rows(path)[0]


def read_times_file(path: PathLike) -> np.ndarray:
    """Read one duration in seconds per line."""
    path = Path(path)
    try:
        return np.asarray([float(line) for _, line in box_files.numbered_lines(path, ResultsError, RESULT_BLANK_HINT)], dtype=np.float64)
    except ValueError:
        raise ResultsError(f"{path}: expected one number (seconds) per line") from None


@dataclass(frozen=True)
class TrackerResults:
    """The result directory of one tracker."""

    name: str
    directory: Path

    def sequence_names(self) -> list[str]:
        """Names of the sequences with a box file."""
        return sorted(
            p.name[: -len(RESULT_SUFFIX)]
            for p in self.directory.glob(f"*{RESULT_SUFFIX}")
            if p.is_file() and not p.name.endswith(_SIDE_FILES)
        )

    def has(self, seq_name: str) -> bool:
        """True when a box file exists for ``seq_name``."""
        return has_result(self.directory, seq_name)

    def boxes(self, seq_name: str) -> np.ndarray:
        """Predicted ``(N, 4)`` box_xywh of a sequence."""
        path = result_path(self.directory, seq_name)
        if not path.is_file():
            raise ResultsError(f"{path}: no result for sequence {seq_name!r} of tracker {self.name!r}")
        return read_boxes_file(path)

    def rows(self, seq_name: str) -> tuple[np.ndarray, np.ndarray]:
        """Boxes and not-present marks (lines holding a single ``0``) of a sequence."""
        path = result_path(self.directory, seq_name)
        if not path.is_file():
            raise ResultsError(f"{path}: no result for sequence {seq_name!r} of tracker {self.name!r}")
        return read_result_rows(path)

    def times(self, seq_name: str) -> np.ndarray | None:
        """Per-frame seconds, or None when no time file exists."""
        for candidate in (time_path(self.directory, seq_name), self.directory / "times" / f"{seq_name}{TIME_SUFFIX}"):
            if candidate.is_file():
                return read_times_file(candidate)
        return None


def parse_result_spec(spec: str) -> tuple[str, Path]:
    """Parse ``NAME=DIR``."""
    name, sep, directory = spec.partition("=")
    if not sep or not name.strip() or not directory.strip():
        raise ResultsError(f"result spec {spec!r}: expected NAME=DIR")
    return name.strip(), Path(directory.strip())


def open_results(dirs: Mapping[str, PathLike]) -> list[TrackerResults]:
    """Tracker name -> result directory, checked to exist."""
    trackers = []
    for name, directory in dirs.items():
        path = Path(directory)
        if not path.is_dir():
            raise ResultsError(f"{path}: result directory of tracker {name!r} not found")
        trackers.append(TrackerResults(name, path))
    return trackers
