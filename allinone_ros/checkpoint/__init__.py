"""Checkpoint reading, strict loading and writing."""
from .errors import CheckpointError, UnsafeCheckpointError
from .filter import FilterReport, checkpoint_filter_fn
from .io import (
    LoadedCheckpoint, RawCheckpoint, infer_config, load_checkpoint, load_model, read_checkpoint, save_checkpoint,
)
from .safe_load import load_pickle_checkpoint

__all__ = [
    "CheckpointError", "FilterReport", "LoadedCheckpoint", "RawCheckpoint", "UnsafeCheckpointError",
    "checkpoint_filter_fn", "infer_config", "load_checkpoint", "load_model", "load_pickle_checkpoint",
    "read_checkpoint", "save_checkpoint",
]
