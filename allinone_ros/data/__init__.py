"""Readers for single-object-tracking sequences and whole datasets."""

from allinone_ros.data.sequence import DatasetLayoutError, Sequence, read_sequence_dir

__all__ = ["DatasetLayoutError", "Sequence", "read_sequence_dir"]
