"""The target lifecycle (IDLE, GROUNDING, WAITING_FOR_BOX, TRACKING, LOST) shared by the node, CLIs and evaluation.

The machine and the factory (which load torch) are imported on first use, so that the states and
the config are importable without torch (the follow controller node and ``control`` use them).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import LifecycleConfig
from .states import TargetResult, TargetState

if TYPE_CHECKING:
    from .factory import build_lifecycle, build_tracker
    from .machine import TargetLifecycle

_LAZY = {"TargetLifecycle": ".machine", "build_lifecycle": ".factory", "build_tracker": ".factory"}

__all__ = ["LifecycleConfig", "TargetLifecycle", "TargetResult", "TargetState", "build_lifecycle", "build_tracker"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
