"""Checkpoint errors."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message names the file and the problem."""


class UnsafeCheckpointError(CheckpointError):
    """The file's pickle would call code we refuse to run without ``--trust-checkpoint``."""
