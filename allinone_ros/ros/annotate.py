"""The annotated debug image: the processed frame with box, state, confidence and sentence.

Drawing lives here (ROS layer), never in the tracker core. Plain OpenCV/NumPy.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..visualize import draw_box
from .session import FrameResult, TrackState

STATE_COLOURS: dict[TrackState, tuple[int, int, int]] = {  # RGB
    TrackState.IDLE: (200, 200, 200),
    TrackState.WAITING_FOR_BOX: (80, 160, 255),
    TrackState.TRACKING: (0, 255, 0),
    TrackState.LOST: (255, 140, 0),
}


def annotate(image_rgb: np.ndarray, result: FrameResult, max_text_chars: int = 60) -> np.ndarray:
    """A copy of ``image_rgb`` with the result drawn on it."""
    colour = STATE_COLOURS[result.state]
    out = image_rgb
    if result.box_xywh is not None:
        out = draw_box(out, np.asarray(result.box_xywh), colour, label=f"{result.confidence:.2f}")
    else:
        out = out.copy()
    header = result.state.name
    if result.sentence:
        sentence = result.sentence if len(result.sentence) <= max_text_chars else result.sentence[: max_text_chars - 3] + "..."
        header += f": {sentence}"
    cv2.putText(out, header, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, header, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out
