"""Where the shipped default model is, and loading a checkpoint for a tracker.

Trackers themselves are built in one place: :func:`allinone_ros.lifecycle.build_tracker`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path


from ..checkpoint import CheckpointError, load_checkpoint
from ..model import AllInOne
from .config import TrackerConfig
from ..model.inference_settings import resolve_settings

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "allinone_uav_small.safetensors"


def shipped_model_candidates(name: str) -> list[Path]:
    """Where a file shipped in ``models/`` may be: the source tree, then ``share/allinone_ros/models``
    of every ROS install prefix (``AMENT_PREFIX_PATH``)."""
    candidates = [Path(__file__).resolve().parents[2] / "models" / name]
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidates.append(Path(prefix) / "share" / "allinone_ros" / "models" / name)
    return candidates


def default_model_path() -> Path:
    """The default model shipped in ``models/`` (source tree) or ``share/allinone_ros/models`` (ROS install)."""
    candidates = shipped_model_candidates(DEFAULT_MODEL_NAME)
    for path in candidates:
        if path.is_file():
            return path
    raise CheckpointError(
        f"no checkpoint given and the default model {DEFAULT_MODEL_NAME} is not installed "
        f"(looked in {[str(p.parent) for p in candidates]}); pass a checkpoint path"
    )


def load_tracker_model(checkpoint: str | Path | None, config: TrackerConfig,
                       trust: bool = False) -> tuple[AllInOne, TrackerConfig]:
    """Load ``checkpoint`` (default: the shipped model) with the attention path ``config`` asks for.

    Returns the network and ``config`` with its crop factors settled: an explicit value in ``config``
    wins, else the checkpoint's stored settings, else the paper's (logged at INFO with their source).
    """
    path = Path(checkpoint) if checkpoint else default_model_path()
    loaded = load_checkpoint(path, trust=trust, attn_impl=config.attn_impl)
    model = loaded.model
    log.info("loaded %s (%s text encoder, width %d, depth %d, template %d px, search %d px)", path,
             model.cfg.language_encoder, model.cfg.embed_dim, model.cfg.depth, model.cfg.template_size,
             model.cfg.search_size)
    settings = resolve_settings(loaded.inference, config.template_factor, config.search_factor, where=str(path))
    return model, config.with_settings(settings)
