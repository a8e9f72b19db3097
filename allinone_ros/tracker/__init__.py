"""Tracker core: input checks, post-processing, explicit state and the per-frame loop."""
from .config import TrackerConfig
from .preprocess import InputError
from .state import TrackerState, TrackResult
from .tracker import EagerRunner, ModelRunner, Tracker

__all__ = ["EagerRunner", "InputError", "ModelRunner", "TrackResult", "Tracker", "TrackerConfig", "TrackerState"]
