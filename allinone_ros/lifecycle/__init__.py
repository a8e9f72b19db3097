"""The target lifecycle (IDLE, GROUNDING, WAITING_FOR_BOX, TRACKING, LOST) shared by the node, CLIs and evaluation."""
from .config import LifecycleConfig
from .factory import build_lifecycle, build_tracker
from .machine import TargetLifecycle
from .states import TargetResult, TargetState

__all__ = ["LifecycleConfig", "TargetLifecycle", "TargetResult", "TargetState", "build_lifecycle", "build_tracker"]
