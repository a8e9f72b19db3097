"""Grounding: find the object a sentence describes in an image (zero-shot detectors).

The core only defines the :class:`Grounder` protocol and :class:`Candidate`; the
``transformers``-based detectors load from a local model directory and are imported lazily.
"""
from .base import Candidate, Grounder, GrounderConfig, GroundingModelError, sort_candidates
from .transformers_grounder import SUPPORTED_MODEL_TYPES, TransformersGrounder, check_model_dir

__all__ = [
    "Candidate", "Grounder", "GrounderConfig", "GroundingModelError", "SUPPORTED_MODEL_TYPES",
    "TransformersGrounder", "check_model_dir", "sort_candidates",
]
