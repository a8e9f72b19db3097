"""Writing planned sequences in LaSOT layout, and reading the scene description back."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np

from .config import SyntheticConfig
from .plan import plan_sequence
from .scene import SyntheticSequence

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]


@dataclass(frozen=True, eq=False)
class ObjectTrack:
    """One object of a written scene, read back from ``meta.json``."""

    role: str  # "target" or the distractor kind
    shape: str
    colour: str
    track_xywh: np.ndarray  # (n, 4) unclipped polygon bounds per frame, frame pixels

    def centre_xy(self, t: int) -> np.ndarray:
        x, y, w, h = self.track_xywh[t]
        return np.array([x + w / 2.0, y + h / 2.0])


def scene_objects(meta: dict[str, Any]) -> list[ObjectTrack]:
    """The target (first) and the distractors of a sequence's ``meta.json`` content."""
    objects = []
    for entry in [meta["target"], *meta["distractors"]]:
        track = np.asarray(entry["track_xywh"], dtype=np.float64)
        if track.ndim != 2 or track.shape[1] != 4:
            raise ValueError(f"meta.json of {meta.get('name')!r}: track_xywh must be (n, 4), got {track.shape}")
        objects.append(ObjectTrack(str(entry["role"]), str(entry["shape"]), str(entry["colour"]), track))
    return objects


# --------------------------------------------------------------------------- writing


def _format_box(box: np.ndarray) -> str:
    if not np.any(box):
        return "0,0,0,0"
    return ",".join(f"{v:.2f}" for v in box)


def write_sequence(
    seq: SyntheticSequence, seq_dir: PathLike, jpeg_quality: int = 95, progress: Callable[[int], None] | None = None
) -> Path:
    """Render and write ``seq`` into ``seq_dir`` (LaSOT layout); ``progress(1)`` after each frame."""
    out = Path(seq_dir)
    img_dir = out / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
    for t in range(len(seq)):
        bgr = cv2.cvtColor(seq.render_frame(t), cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise OSError(f"{out}: JPEG encoding of frame {t + 1} failed")
        (img_dir / f"{t + 1:08d}.jpg").write_bytes(buf.tobytes())
        if progress is not None:
            progress(1)
    (out / "groundtruth.txt").write_text("".join(_format_box(b) + "\n" for b in seq.boxes_xywh))
    (out / "nlp.txt").write_text(seq.sentence + "\n", encoding="utf-8")
    (out / "full_occlusion.txt").write_text(",".join(str(int(v)) for v in seq.full_occlusion) + "\n")
    (out / "out_of_view.txt").write_text(",".join(str(int(v)) for v in seq.out_of_view) + "\n")
    (out / "meta.json").write_text(json.dumps(seq.meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def generate_dataset(
    root: PathLike,
    config: SyntheticConfig,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write ``config.num_sequences`` sequences under ``root/<class_name>/`` and return their dirs.

    An existing non-empty sequence directory raises ``FileExistsError`` unless ``overwrite``,
    which deletes it first (so no stale frames of a longer earlier run survive).
    """
    class_dir = Path(root) / config.class_name
    written: list[Path] = []
    for number in range(1, config.num_sequences + 1):
        seq_dir = class_dir / f"{config.class_name}-{number}"
        if seq_dir.exists() and any(seq_dir.iterdir()):
            if not overwrite:
                raise FileExistsError(f"{seq_dir} exists and is not empty (overwrite=True or --overwrite replaces it)")
            shutil.rmtree(seq_dir)
        seq = plan_sequence(config, number)
        write_sequence(seq, seq_dir, config.jpeg_quality, progress)
        LOGGER.debug("wrote %s (%d frames): %s", seq_dir, len(seq), seq.sentence)
        written.append(seq_dir)
    return written
