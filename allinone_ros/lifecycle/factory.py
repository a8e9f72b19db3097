"""The one place that builds trackers: a network through a backend, and the lifecycle around it."""
from __future__ import annotations

from pathlib import Path

from ..backends.config import BackendConfig
from ..backends.factory import check_device
from ..backends.backend_tracker import make_tracker
from ..grounding.base import Grounder
from ..model import AllInOne
from ..tracker import Tracker, TrackerConfig
from ..tracker.factory import load_tracker_model
from .config import LifecycleConfig
from .machine import TargetLifecycle

DEFAULT_BACKEND = "eager"  # the node's, the CLIs' and the library's default


def build_tracker(checkpoint: str | Path | None = None, tracker_config: TrackerConfig | None = None,
                  backend_config: BackendConfig | None = None, trust: bool = False) -> Tracker:
    """Load ``checkpoint`` (None: the shipped default model) and run it through ``backend_config``
    (default: eager PyTorch fp32 on ``tracker_config.device``).

    Crop factors left unset (None) in ``tracker_config`` come from the checkpoint (the paper's values
    when it stores none); see :mod:`allinone_ros.model.inference_settings`.

    A device that is not there raises :class:`~allinone_ros.backends.BackendUnavailableError` before
    the checkpoint is read.
    """
    tracker_config = tracker_config or TrackerConfig(
        device=backend_config.device if backend_config is not None else "cpu")
    backend_config = backend_config or BackendConfig(name=DEFAULT_BACKEND, device=tracker_config.device)
    check_device(backend_config)
    model, tracker_config = load_tracker_model(checkpoint, tracker_config, trust)
    return tracker_from_model(model, tracker_config, backend_config)


def tracker_from_model(model: AllInOne, tracker_config: TrackerConfig, backend_config: BackendConfig) -> Tracker:
    """A loaded model run through ``backend_config`` with ``tracker_config`` as resolved at load (the
    tracker node loads its model once at configure and builds the tracker from it on every activate).
    An unavailable device raises from the backend's own check."""
    return make_tracker(model, tracker_config, backend_config)


def build_lifecycle(checkpoint: str | Path | None = None, tracker_config: TrackerConfig | None = None,
                    backend_config: BackendConfig | None = None, grounder: Grounder | None = None,
                    config: LifecycleConfig | None = None, trust: bool = False) -> TargetLifecycle:
    """:func:`build_tracker` wrapped in the :class:`TargetLifecycle` the node runs."""
    return TargetLifecycle(build_tracker(checkpoint, tracker_config, backend_config, trust), grounder, config)
