"""Initialise a model for fine-tuning from a checkpoint whose keys may not all fit.

Accepts the released trainer file, a plain state dict and our own checkpoints (torch or
safetensors). Everything that is not loaded is reported key by key: keys of the file the
model does not have (``unexpected``), keys whose shapes differ (``mismatched``, e.g.
``backbone.language_proj.weight`` when a released 768-d ``official`` model is fine-tuned with
the 384-d ``pretrained`` text encoder) and model keys the file does not provide (``missing``,
which keep their fresh initialisation).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..checkpoint import CheckpointError, FilterReport, checkpoint_filter_fn, read_checkpoint
from ..checkpoint.io import TEXT_ENCODER_PREFIX
from ..model import AllInOne

log = logging.getLogger(__name__)


def init_from_checkpoint(model: AllInOne, path: str | Path, trust: bool = False) -> FilterReport:
    """Load every tensor of ``path`` that fits ``model`` (in place) and log each one that does not.

    A frozen ``pretrained`` text encoder keeps the weights of its own directory when the file
    has none. Raises :class:`CheckpointError` when not a single tensor fits.
    """
    raw = read_checkpoint(path, trust=trust)
    cfg = model.cfg
    optional = (TEXT_ENCODER_PREFIX,) if cfg.language_encoder == "pretrained" and cfg.freeze_text_encoder else ()
    state, report = checkpoint_filter_fn(raw.state_dict, model.state_dict(), optional_prefixes=optional)
    if not state:
        raise CheckpointError(
            f"{raw.path}: no tensor of the file fits the model (width {cfg.embed_dim}, depth {cfg.depth}); "
            f"{report.describe()}"
        )
    model.load_state_dict(state, strict=False)
    log.info("initialised %d of %d model tensors from %s", len(state), len(model.state_dict()), raw.path)
    for key in report.unexpected:
        log.warning("init-from %s: skipped key %s (not in the model)", raw.path.name, key)
    for entry in report.mismatched:
        log.warning("init-from %s: skipped key %s (shape mismatch)", raw.path.name, entry)
    for key in report.missing:
        log.warning("init-from %s: model key %s not in the file (keeps its initialisation)", raw.path.name, key)
    for key in report.ignored:
        log.info("init-from %s: ignored legacy buffer %s", raw.path.name, key)
    return report


def write_report(report: FilterReport, path: Path, source: str | Path, loaded: int) -> None:
    """Save the fine-tuning report beside the run (JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "source": str(source), "loaded": loaded, "unexpected": report.unexpected,
        "mismatched": report.mismatched, "missing": report.missing, "ignored": report.ignored,
    }, indent=2) + "\n")
