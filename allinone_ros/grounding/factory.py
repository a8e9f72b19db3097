"""Build a grounder from one string, as the CLI and the node take it."""
from __future__ import annotations

from pathlib import Path

from .base import Grounder, GrounderConfig, GroundingModelError

NONE = "none"
HELP = ("'' = the shipped built-in grounder, 'none' = no grounding, a .safetensors file = a built-in grounder "
        "checkpoint (allinone-train-grounder), a directory = a transformers Grounding DINO / OWLv2 / OWL-ViT model")


def build_grounder(spec: str, config: GrounderConfig | None = None) -> Grounder | None:
    """``spec`` as in :data:`HELP`; ``None`` for ``'none'``. Errors name the path and what was expected."""
    if spec.strip().lower() == NONE:
        return None
    if not spec:
        from .builtin import BuiltinGrounder

        return BuiltinGrounder.from_checkpoint(None, config)
    path = Path(spec).expanduser()
    if path.is_dir():
        from .transformers_grounder import TransformersGrounder

        return TransformersGrounder(path, config)
    if path.suffix == ".safetensors":
        from .builtin import BuiltinGrounder

        return BuiltinGrounder.from_checkpoint(path, config)
    raise GroundingModelError(f"grounder {spec!r} is neither a .safetensors grounder checkpoint nor a model "
                              f"directory; expected {HELP}")
