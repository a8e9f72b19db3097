"""Drawing boxes on frames and writing annotated videos (kept out of the tracker loop)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def draw_box(image_rgb: np.ndarray, box_xywh: np.ndarray, color: tuple[int, int, int] = (0, 255, 0),
             label: str | None = None) -> np.ndarray:
    """Return a copy of ``image_rgb`` with ``box_xywh`` (and an optional label) drawn."""
    out = image_rgb.copy()
    x, y, w, h = (int(round(v)) for v in box_xywh)
    cv2.rectangle(out, (x, y), (x + w, y + h), color, 2)
    if label:
        cv2.putText(out, label, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return out


class VideoSink:
    """Write RGB frames to a video file (mp4v for .mp4, MJPG otherwise); sized by the first frame."""

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, image_rgb: np.ndarray) -> None:
        h, w = image_rgb.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise OSError(f"cannot open video writer for {self.path}")
            self._size = (w, h)
        frame = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        if (w, h) != self._size:  # frame size changed mid-stream: fit into the first size
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
