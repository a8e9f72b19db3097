"""One tracking sequence in memory and a reader for one sequence directory.

Layouts recognised by :func:`read_sequence_dir` (first match wins):

* frames in ``img/`` or ``imgs/`` (LaSOT, TNL2K, OTB, WebUAV-3M) or directly in
  the directory (GOT-10k); ``.jpg/.jpeg/.png/.bmp``, natural name order;
* ground truth ``groundtruth.txt`` or ``groundtruth_rect.txt`` (OTB, WebUAV-3M):
  one ``x,y,w,h`` box per line, comma- and/or whitespace-separated;
* text ``nlp.txt`` (LaSOT) or ``language.txt`` (TNL2K, WebUAV-3M), stripped;
  ``""`` when absent;
* visibility: ``full_occlusion.txt`` / ``out_of_view.txt`` (LaSOT, one line of
  comma-separated 0/1), ``absence.label`` (GOT-10k, one 0/1 per line); a frame is
  also invisible when its box has ``w <= 0``, ``h <= 0`` or a NaN.

Strictness (every error names the file and, where it applies, the line):

* a UTF-8 byte-order mark at the start of any text file read here or in
  :mod:`allinone_ros.data.datasets` (ground truth, flags, sentences, sequence
  lists, ``attributes.txt``, ``meta_info.ini``, OTB queries) is stripped;
* a blank line inside a ground-truth file is an error (blank lines at the end
  are allowed): skipping it would shift every later box by a frame;
* ground truth with more than one box but fewer boxes than frames is an error
  (LaSOT: a warning, the first frames are used as its toolkits do); a single box (GOT-10k test, first box only) is accepted and
  :attr:`Sequence.has_full_groundtruth` is False (metrics refuse it);
* a missing visibility file that the layout names (LaSOT ``full_occlusion.txt``
  / ``out_of_view.txt``, GOT-10k ``absence.label`` / ``cover.label``) is
  logged as a warning that says what is assumed (target visible in every frame).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np

from ..ops import box_files
from ..ops.boxes import nonempty_mask

LOGGER = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
FRAME_DIR_NAMES = ("img", "imgs")
GROUNDTRUTH_NAMES = ("groundtruth.txt", "groundtruth_rect.txt")
SENTENCE_NAMES = ("nlp.txt", "language.txt")
LASOT_FLAG_NAMES = ("full_occlusion.txt", "out_of_view.txt")
GOT10K_ABSENCE_NAME = "absence.label"
GROUNDTRUTH_BLANK_HINT = "every later row would shift by one frame"

AttributeValue = Union[np.ndarray, int, float]
PathLike = Union[str, Path]

_DIGITS_RE = re.compile(r"(\d+)")


class DatasetLayoutError(ValueError):
    """A directory or file does not match the expected dataset layout."""


@dataclass(frozen=True, eq=False)
class Sequence:
    """A single-object-tracking sequence.

    ``boxes_xywh`` is ``(M, 4)`` float64 with ``1 <= M <= len(frame_paths)``;
    ``visible`` is ``(M,)`` bool. ``attributes`` holds per-sequence scalars
    (e.g. WebUAV-3M flags) or per-frame arrays (e.g. LaSOT ``full_occlusion``).
    """

    name: str
    frame_paths: tuple[Path, ...]
    boxes_xywh: np.ndarray
    visible: np.ndarray
    sentence: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    image_size_wh: tuple[int, int] | None = None  # GOT-10k meta_info.ini resolution (for AO clipping)
    cover: np.ndarray | None = None  # GOT-10k cover.label (0..8 per frame)

    def __post_init__(self) -> None:
        boxes = self.boxes_xywh
        if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] < 1:
            raise ValueError(f"sequence {self.name!r}: boxes_xywh must be (N, 4) with N >= 1, got {boxes.shape}")
        if self.visible.shape != (boxes.shape[0],):
            raise ValueError(
                f"sequence {self.name!r}: visible has shape {self.visible.shape}, expected ({boxes.shape[0]},)"
            )
        if boxes.shape[0] > len(self):
            raise ValueError(
                f"sequence {self.name!r}: {boxes.shape[0]} ground-truth boxes but only {len(self)} frames"
            )

    def __len__(self) -> int:
        return len(self.frame_paths)

    def frames(self) -> Iterator[np.ndarray]:
        """The frames in order as RGB arrays (a bag sequence reads them from its bag)."""
        from .frames import read_frame

        return (read_frame(p) for p in self.frame_paths)

    @property
    def has_full_groundtruth(self) -> bool:
        """True when every frame has a ground-truth box."""
        return self.boxes_xywh.shape[0] == len(self)

    @property
    def init_box_xywh(self) -> np.ndarray:
        """Ground-truth box of the first frame."""
        return self.boxes_xywh[0].copy()


def read_text(path: Path, lenient: bool = False) -> str:
    """UTF-8 text of ``path`` without a leading byte-order mark; errors are :class:`DatasetLayoutError`.

    ``lenient`` replaces undecodable bytes (sentences); otherwise they are an error naming the file.
    """
    return box_files.read_text(path, DatasetLayoutError, lenient)


def numbered_lines(path: Path) -> list[tuple[int, str]]:
    """Stripped non-empty lines with their 1-based numbers; a blank line before the last data line is an error."""
    return box_files.numbered_lines(path, DatasetLayoutError, GROUNDTRUTH_BLANK_HINT)


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders ``2.jpg`` before ``10.jpg``."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _DIGITS_RE.split(name))


def list_frames(directory: Path) -> tuple[Path, ...]:
    """Image files directly inside ``directory`` in natural name order."""
    with os.scandir(directory) as entries:  # scandir avoids one stat per frame on large datasets
        names = [e.name for e in entries if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES]
    return tuple(directory / name for name in sorted(names, key=natural_key))


def find_frames(seq_dir: Path) -> tuple[Path, ...]:
    """Frames in ``img/``, ``imgs/`` or the directory itself."""
    for sub in FRAME_DIR_NAMES:
        candidate = seq_dir / sub
        if candidate.is_dir():
            frames = list_frames(candidate)
            if not frames:
                raise DatasetLayoutError(f"{candidate}: frame directory contains no {'/'.join(IMAGE_SUFFIXES)} images")
            return frames
    frames = list_frames(seq_dir)
    if not frames:
        raise DatasetLayoutError(
            f"{seq_dir}: no frames found; expected images in img/ or imgs/ or in the directory itself"
        )
    return frames


def read_boxes_xywh(path: Path) -> np.ndarray:
    """Read ``x,y,w,h`` rows (comma and/or whitespace separated) as ``(N, 4)`` float64."""
    return box_files.read_box_rows(path, DatasetLayoutError, "ground-truth file", GROUNDTRUTH_BLANK_HINT)[0]


def read_groundtruth(gt_path: Path, frames: tuple[Path, ...], seq_dir: Path) -> np.ndarray:
    """Ground-truth boxes of the sequence in ``seq_dir``; more boxes than ``frames`` is a layout error."""
    boxes = read_boxes_xywh(gt_path)
    if boxes.shape[0] > len(frames):
        raise DatasetLayoutError(f"{gt_path}: {boxes.shape[0]} boxes but only {len(frames)} frames in {seq_dir}")
    return boxes


def require_full_groundtruth(gt_path: Path, boxes: np.ndarray, frames: tuple[Path, ...]) -> None:
    """Refuse ground truth with more than one box but fewer boxes than frames."""
    if 1 < boxes.shape[0] < len(frames):
        raise DatasetLayoutError(
            f"{gt_path}:{boxes.shape[0]}: ground truth ends after {boxes.shape[0]} boxes but the sequence has "
            f"{len(frames)} frames (a first-box-only file has exactly 1 line)"
        )


def read_flags(path: Path) -> np.ndarray:
    """Read 0/1 flags separated by commas, whitespace or newlines as a bool array."""
    return read_int_values(path, allowed=(0, 1)).astype(bool)


def read_int_values(path: Path, allowed: tuple[int, ...]) -> np.ndarray:
    """Integers separated by commas, whitespace or newlines; errors name the line and the value."""
    values: list[int] = []
    for lineno, line in numbered_lines(path):
        for part in box_files.split_values(line):
            try:
                number = float(part)
            except ValueError:
                raise DatasetLayoutError(f"{path}:{lineno}: non-numeric value {part!r}") from None
            if number not in allowed:
                raise DatasetLayoutError(f"{path}:{lineno}: value {part!r}, expected one of {list(allowed)}")
            values.append(int(number))
    return np.asarray(values, dtype=np.int64)


def read_sentence(seq_dir: Path) -> str:
    """Text from ``nlp.txt`` or ``language.txt``; empty string if neither exists."""
    for name in SENTENCE_NAMES:
        candidate = seq_dir / name
        if candidate.is_file():
            return read_text(candidate, lenient=True).strip()
    return ""


def _fit_flags(flags: np.ndarray, path: Path, n_boxes: int, n_frames: int) -> np.ndarray:
    """Accept flags covering every frame or every ground-truth row; cut to the ground truth."""
    if flags.shape[0] not in (n_boxes, n_frames):
        raise DatasetLayoutError(
            f"{path}: {flags.shape[0]} flags, expected {n_frames} (frames) or {n_boxes} (ground-truth rows)"
        )
    return flags[:n_boxes]


def find_groundtruth(seq_dir: Path) -> Path:
    """Path of the ground-truth file in ``seq_dir``."""
    for name in GROUNDTRUTH_NAMES:
        candidate = seq_dir / name
        if candidate.is_file():
            return candidate
    raise DatasetLayoutError(f"{seq_dir}: no ground truth; expected one of {', '.join(GROUNDTRUTH_NAMES)}")


def read_sequence_dir(
    path: PathLike,
    name: str | None = None,
    sentence: str | None = None,
    expected_flags: tuple[str, ...] = (),
    first_frames: bool = False,
) -> Sequence:
    """Read one sequence directory (LaSOT/TNL2K/OTB/WebUAV-3M/GOT-10k layout).

    ``name`` defaults to the directory name; ``sentence`` overrides the text
    files (used for OTB99-L, whose sentences live outside the sequence).
    ``expected_flags``: visibility files the layout ships; a missing one is a
    warning (the target is then assumed visible wherever its box is valid).
    ``first_frames``: ground truth shorter than the image folder covers its
    first frames (LaSOT: the MATLAB toolkit keeps monkey-17's first 2260 frames,
    pytracking lists frames 1..N); logged as a warning instead of an error.
    """
    seq_dir = Path(path)
    if not seq_dir.is_dir():
        raise DatasetLayoutError(f"{seq_dir}: not a directory (expected a sequence directory)")
    frames = find_frames(seq_dir)
    gt_path = find_groundtruth(seq_dir)
    boxes = read_groundtruth(gt_path, frames, seq_dir)
    if first_frames and 1 < boxes.shape[0] < len(frames):
        LOGGER.warning("%s: %d boxes for %d images; using frames 1-%d as the LaSOT toolkits do",
                       gt_path, boxes.shape[0], len(frames), boxes.shape[0])
        frames = frames[: boxes.shape[0]]
    require_full_groundtruth(gt_path, boxes, frames)

    visible = nonempty_mask(boxes)
    attributes: dict[str, AttributeValue] = {}
    for flag_name in (*LASOT_FLAG_NAMES, GOT10K_ABSENCE_NAME):
        flag_path = seq_dir / flag_name
        if flag_path.is_file():
            flags = _fit_flags(read_flags(flag_path), flag_path, boxes.shape[0], len(frames))
            attributes[flag_path.stem] = flags
            visible &= ~flags
        elif flag_name in expected_flags:
            LOGGER.warning("%s: missing; assuming the target visible in every frame with a valid box", flag_path)

    text = read_sentence(seq_dir) if sentence is None else sentence.strip()
    return Sequence(
        name=name or seq_dir.name,
        frame_paths=frames,
        boxes_xywh=boxes,
        visible=visible,
        sentence=text,
        attributes=attributes,
    )
