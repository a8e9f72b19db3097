"""Box text files: one ``x,y,w,h`` box per line (``box_xywh``), read strictly and written atomically.

Dataset ground truth (:mod:`allinone_ros.data.sequence`) and tracker results
(:mod:`allinone_ros.evaluation.results`) share these rules:

* UTF-8, a leading byte-order mark is stripped; other undecodable bytes are an error;
* values separated by commas and/or whitespace; ``nan`` is a value;
* blank lines at the end are allowed, a blank line inside the file is an error (skipping it would
  shift every later box by a frame);
* every error names the file and, where it applies, the line.

Each reader raises its own error type (``error``), so callers keep catching what they did.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

SPLIT_RE = re.compile(r"[,\s]+")  # separators between the values of a line
ABSENT_MARKS = ("0", "0.0")  # a line holding only this means "target not present" (Anti-UAV, WebUAV-3M results)


def read_text(path: Path, error: type[Exception], lenient: bool = False) -> str:
    """UTF-8 text of ``path`` without a leading byte-order mark.

    ``lenient`` replaces undecodable bytes (free text such as sentences); otherwise they raise ``error``.
    """
    try:
        return path.read_text(encoding="utf-8-sig", errors="replace" if lenient else "strict")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from None


def numbered_lines(path: Path, error: type[Exception], blank_hint: str) -> list[tuple[int, str]]:
    """Stripped lines with their 1-based numbers; trailing blank lines dropped, an inner one raises
    ``error`` (``blank_hint`` says what to do instead)."""
    lines = read_text(path, error).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise error(f"{path}:{lineno}: blank line inside the file ({blank_hint})")
        out.append((lineno, line.strip()))
    return out


def split_values(line: str) -> list[str]:
    """The values of one line, split at commas and/or whitespace."""
    return [p for p in SPLIT_RE.split(line) if p]


def read_box_rows(
    path: Path, error: type[Exception], what: str, blank_hint: str, absent_marks: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` float64 ``box_xywh`` rows of ``path`` and an ``(N,)`` mask of absent marks.

    ``absent_marks``: a line holding a single ``0`` is read as the box 0,0,0,0 and marked True in the
    mask (otherwise such a line is an error). ``what`` names the file in the empty-file error.
    """
    rows: list[list[float]] = []
    marks: list[bool] = []
    for lineno, line in numbered_lines(path, error, blank_hint):
        parts = split_values(line)
        if absent_marks and len(parts) == 1 and parts[0] in ABSENT_MARKS:
            rows.append([0.0, 0.0, 0.0, 0.0])
            marks.append(True)
            continue
        if len(parts) != 4:
            alternative = " (or a single 0)" if absent_marks else ""
            raise error(f"{path}:{lineno}: expected 4 values x,y,w,h{alternative}, got {len(parts)}: {line!r}")
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise error(f"{path}:{lineno}: non-numeric box value in {line!r}") from None
        marks.append(False)
    if not rows:
        raise error(f"{path}: {what} is empty")
    return np.asarray(rows, dtype=np.float64), np.asarray(marks, dtype=bool)


def format_box_rows(boxes_xywh: np.ndarray) -> str:
    """``x,y,w,h`` lines with 4 decimals, one per row of the (N, 4) ``boxes_xywh``."""
    return "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in boxes_xywh)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename: never a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
