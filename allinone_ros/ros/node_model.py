"""What the tracker node loads and releases: the model (CPU memory), the tracker and the grounder.

The tracker is built by the lifecycle factory (:func:`allinone_ros.lifecycle.factory.tracker_from_model`),
the one place the CLIs and the evaluation build theirs. ``log`` is the node's INFO logger.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..backends.base import Backend
from ..backends.config import BackendConfig
from ..backends.backend_tracker import describe_tracker
from ..grounding import GrounderConfig, build_grounder
from ..lifecycle.factory import tracker_from_model
from ..tracker import Tracker
from .node_config import NodeSettings

Log = Callable[[str], Any]


def load_node_model(settings: NodeSettings, log: Log) -> tuple[Any, NodeSettings]:
    """The checkpoint (empty: the default model) read strictly into CPU memory, and ``settings`` with the
    crop factors settled (parameter > checkpoint > paper)."""
    import torch

    from ..tracker.factory import default_model_path, load_tracker_model

    if settings.cpu_threads > 0:
        torch.set_num_threads(settings.cpu_threads)
    path = settings.checkpoint or str(default_model_path())
    model, config = load_tracker_model(path, settings.tracker_config(), trust=settings.trust_checkpoint)
    cfg = model.cfg
    note = ("the sentence does not change the output (as released)" if cfg.language_encoder == "official"
            else "the sentence steers the tracker")
    log(f"model {path} (width {cfg.embed_dim}, depth {cfg.depth}, language encoder {cfg.language_encoder}: {note}); "
        f"crops: template {config.template_factor:g}x -> {cfg.template_size} px, "
        f"search {config.search_factor:g}x -> {cfg.search_size} px")
    return model, replace(settings, template_factor=config.template_factor, search_factor=config.search_factor)


def build_node_tracker(model: Any, settings: NodeSettings, backend_config: BackendConfig,
                       log: Log) -> tuple[Tracker, BackendConfig, str]:
    """The tracker through ``backend_config``; also the config with the backend ``auto`` chose pinned,
    and the backend's description for diagnostics (e.g. ``onnxruntime fp32 (cpu)``)."""
    tracker = tracker_from_model(model, settings.tracker_config(), backend_config)
    backend = tracker.runner
    assert isinstance(backend, Backend)  # the factory runs the network through one
    text = describe_tracker(tracker)
    log(f"backend: {text} {backend.info}")
    return tracker, replace(backend_config, name=backend.name), text


def build_node_grounder(settings: NodeSettings, log: Log) -> Any:
    """The grounder the ``grounder`` parameter names (None for 'none'), warmed up."""
    grounder = build_grounder(settings.grounder, GrounderConfig(device=settings.device))
    what = ("none: a sentence alone waits for a box" if grounder is None
            else f"{settings.grounder or 'built-in (default)'} ({type(grounder).__name__})")
    log(f"grounder: {what}")
    if grounder is not None:  # the first call pays one-time set-up: not on the operator's first sentence
        t0 = time.perf_counter()
        grounder.ground(np.zeros((64, 64, 3), dtype=np.uint8), "warm up")
        log(f"grounder warmed up in {(time.perf_counter() - t0) * 1e3:.0f} ms")
    return grounder


def release_backend(tracker: Tracker | None) -> None:
    """Release what the tracker's backend holds (engine, session, cast weights)."""
    if tracker is not None and isinstance(tracker.runner, Backend):
        tracker.runner.release()


def release_device(model: Any) -> None:
    """Model back to CPU memory, garbage collected, the CUDA cache emptied."""
    import torch

    if model is not None:
        model.to("cpu")
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
