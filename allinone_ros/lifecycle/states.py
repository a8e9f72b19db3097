"""Target states and the one per-frame result type of the target lifecycle."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class TargetState(IntEnum):
    """What the lifecycle knows about the target; values equal ``allinone_ros/TrackedTarget`` STATE_*."""

    IDLE = 0  # nothing requested
    WAITING_FOR_BOX = 1  # a sentence but no box, and no grounder to find it
    TRACKING = 2  # the box is on the target in this frame
    LOST = 3  # the target is not visible in this frame (hold); last_box_xywh = last known position
    GROUNDING = 4  # looking for the sentence's object in the whole frame


@dataclass(frozen=True)
class TargetResult:
    """What the lifecycle reports for one image.

    ``box_xywh`` is set only while TRACKING and always lies inside the image; ``last_box_xywh``
    is the last box reported TRACKING (the node publishes it while LOST as the last known
    position). ``confidence``: the tracker's score-map peak on a tracked frame, the grounder's
    score on a grounded one, the best candidate's score while LOST or GROUNDING, 0 otherwise.
    """

    state: TargetState
    box_xywh: np.ndarray | None  # (4,) float64 pixels; None unless TRACKING
    confidence: float
    sentence: str
    image_size: tuple[int, int]  # (H, W)
    frame_index: int  # images processed since the last request, the request's image = 0
    last_box_xywh: np.ndarray | None = None  # (4,) last TRACKING box (None before the first)
    started: bool = False  # this image (re)started the track from a box or a grounded candidate
    source: str = "none"  # "init" | "grounder" | "tracker" | "local_search" | "none"
    similarity: float | None = None  # colour similarity of the box to the first template
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def has_box(self) -> bool:
        return self.box_xywh is not None

    @property
    def reported_box_xywh(self) -> np.ndarray | None:
        """The box a report of this image carries: TRACKING this image's box, LOST the last known
        box (``last_box_xywh``), any other state none."""
        if self.state == TargetState.TRACKING:
            return self.box_xywh
        if self.state == TargetState.LOST:
            return self.last_box_xywh
        return None
