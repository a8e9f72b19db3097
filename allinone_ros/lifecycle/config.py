"""Settings of the target lifecycle (one set of defaults for the node, the CLIs and evaluation)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class LifecycleConfig:
    """Presence, loss and re-acquisition rules (see :mod:`allinone_ros.lifecycle.machine`).

    Thresholds are in [0, 1]; ``max_jump`` is in target sizes
    (``sqrt(w * h)`` of the last tracked box); counts are frames.
    """

    lost_threshold: float = 0.3  # tracker confidence below this: the frame does not show the target
    appearance_threshold: float = 0.5  # colour similarity to the target below this: not the target; 0 disables
    appearance_adapt: float = 0.2  # weight of each confident TRACKING image in the recent appearance; 0 = first template only
    # with a grounder that verifies boxes (the built-in one) and a sentence: a tracked box, or a local
    # candidate while LOST or the GROUNDING start, must show the sentence's colour and shape with this probability; 0 disables
    verify_threshold: float = 0.2
    verify_smoothing: float = 0.5  # weight of each TRACKING image's match in the running average tested there
    verify_every: int = 2  # in TRACKING verify every k-th image (the average holds in between; CPU cost)
    verify_jump: float = 0.25  # a tracked box this far (target sizes) from the prediction is verified on its own
    verify_watch: int = 5  # after the grounder put the track back (from LOST or near the prediction) verify
    # each of this many TRACKING images alone (no average): the tracker's template may still prefer a look-alike
    # a box failing only the appearance check still counts when the verifier finds the sentence's colour
    # and shape in it with this probability (the light or the ground around the target changed), and so
    # does a grounded candidate failing the size check (the grounder's box tells the size); 1 disables
    appearance_override: float = 0.5
    max_jump: float = 1.0  # box centre further than this from the predicted centre: not the target ...
    jump_per_speed: float = 1.0  # ... plus this many times the target's speed (target sizes per frame)
    lost_patience: int = 3  # frames in a row without the target -> LOST (the ones before report the prediction)
    recover_threshold: float = 0.4  # confidence a re-acquired candidate needs (tracker or grounder score)
    recover_patience: int = 1  # frames in a row with an accepted candidate at the same place -> TRACKING
    recover_needs_grounder: bool = False  # with a grounder, a local candidate away from the prediction needs its agreement
    recover_iou: float = 0.3  # overlap that makes consecutive candidates "the same"
    max_scale_change: float = 1.5  # a box's size may differ from the target's recent size by this factor
    search_growth: float = 1.25  # while LOST the local search region grows by this per frame ...
    max_search_factor: float = 8.0  # ... up to this search factor
    reground_every: int = 1  # while LOST, ask the grounder on the 1st LOST frame and every K-th after
    ground_threshold: float = 0.5  # grounder score a candidate needs to start (and to re-acquire)
    ground_margin: float = 0.1  # ... and by how much it must beat every other place the grounder scores
    ground_confirm: int = 2  # frames in a row the same grounded candidate is needed to start
    velocity_smoothing: float = 0.5  # weight of the newest displacement in the velocity estimate
    size_smoothing: float = 0.2  # weight of the newest box in the target's recent size
    histogram_bins: tuple[int, int, int] = (12, 4, 4)  # hue, saturation, value bins of the colour histogram

    def __post_init__(self) -> None:
        for name in ("lost_threshold", "appearance_threshold", "appearance_adapt", "verify_threshold",
                     "verify_smoothing", "appearance_override", "recover_threshold", "recover_iou",
                     "ground_threshold", "ground_margin", "velocity_smoothing", "size_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                               and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if self.verify_smoothing == 0:
            raise ValueError("verify_smoothing must be > 0 (the weight of each image's match), got 0")
        for name, low in (("lost_patience", 1), ("recover_patience", 1), ("reground_every", 1), ("ground_confirm", 1),
                          ("verify_every", 1), ("verify_watch", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, low in (("max_jump", 0.0), ("max_scale_change", 1.0), ("search_growth", 1.0),
                          ("max_search_factor", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                               and value >= low) or (low == 0.0 and value == 0.0):
                raise ValueError(f"{name} must be a finite number {'>' if low == 0.0 else '>='} {low}, got {value!r}")
        for name in ("jump_per_speed", "verify_jump"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        bins = self.histogram_bins
        if len(bins) != 3 or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in bins):
            raise ValueError(f"histogram_bins must be three integers >= 1 (hue, saturation, value), got {bins!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
