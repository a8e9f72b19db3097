"""The annotated debug image: the processed frame with box, state, confidence and sentence.

Drawing lives here (ROS layer), never in the tracker core. Plain OpenCV/NumPy.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..visualize import draw_box
from ..lifecycle import TargetResult, TargetState

STATE_COLOURS: dict[TargetState, tuple[int, int, int]] = {  # RGB
    TargetState.IDLE: (200, 200, 200),
    TargetState.WAITING_FOR_BOX: (80, 160, 255),
    TargetState.TRACKING: (0, 255, 0),
    TargetState.LOST: (255, 140, 0),
    TargetState.GROUNDING: (200, 120, 255),
}


def annotate(image_rgb: np.ndarray, result: TargetResult, max_text_chars: int = 60) -> np.ndarray:
    """A copy of ``image_rgb`` with the result drawn on it (LOST: the last known box)."""
    colour = STATE_COLOURS[result.state]
    out = image_rgb
    box = result.reported_box_xywh
    if box is not None:
        out = draw_box(out, np.asarray(box), colour, label=f"{result.confidence:.2f}")
    else:
        out = out.copy()
    header = result.state.name
    if result.sentence:
        sentence = result.sentence if len(result.sentence) <= max_text_chars else result.sentence[: max_text_chars - 3] + "..."
        header += f": {sentence}"
    cv2.putText(out, header, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, header, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out
