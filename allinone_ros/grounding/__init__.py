"""Grounding: find the object a sentence describes in an image.

The :class:`Grounder` protocol and :class:`Candidate`; the built-in grounder (a small
text-conditioned detector trained by ``allinone-train-grounder``, :mod:`.builtin`) and the
``transformers`` zero-shot detectors (local model directory, imported lazily);
:func:`build_grounder` picks one from a string.
"""
from .base import Candidate, Grounder, GrounderConfig, GroundingModelError, sort_candidates
from .factory import build_grounder
from .transformers_grounder import SUPPORTED_MODEL_TYPES, TransformersGrounder, check_model_dir

__all__ = [
    "Candidate", "Grounder", "GrounderConfig", "GroundingModelError", "SUPPORTED_MODEL_TYPES",
    "TransformersGrounder", "build_grounder", "check_model_dir", "sort_candidates",
]
