"""What decides what the network sees besides its weights: the crop factors it was trained with.

:class:`InferenceSettings` holds the paper's values once (template crop 2x, search crop 4x the
target size); the training config, the pair sampler and the tracker take their defaults from it.
Every checkpoint we write stores the settings of its training run (key :data:`METADATA_KEY`), and
loading a tracker uses them unless an explicit CLI flag or node parameter says otherwise
(:func:`resolve_settings`); a checkpoint without them (the released one, foreign files) gets the
paper's values. The crop *sizes* (128 / 256 px) are part of the network (its position embeddings)
and live in :class:`~allinone_ros.model.ModelConfig`, stored in the checkpoint as well.

The Hann window and the box clipping act on the network's output, not its input, and were never
trained with: they stay in :class:`~allinone_ros.tracker.TrackerConfig`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any

log = logging.getLogger(__name__)

METADATA_KEY = "inference_settings"


def check_factor(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number > 0; else ValueError naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class InferenceSettings:
    """Crop factors: the side of the square crop is ``factor * sqrt(w * h)`` of the target box.

    The defaults are the paper's (and the released checkpoint's) values.
    """

    template_factor: float = 2.0
    search_factor: float = 4.0

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, check_factor(f.name, getattr(self, f.name)))

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_stored(cls, data: Any) -> InferenceSettings:
        """The settings a checkpoint stored (every field required); ValueError names the bad key and value."""
        if not isinstance(data, dict):
            raise ValueError(f"{METADATA_KEY} must be a mapping of {[f.name for f in fields(cls)]}, got {data!r}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(map(str, data)) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise ValueError(f"{METADATA_KEY} {data!r}: unknown key(s) {unknown}, missing key(s) {missing}; "
                             f"expected exactly {names}")
        for name in names:
            try:
                check_factor(name, data[name])
            except ValueError as exc:
                raise ValueError(f"{METADATA_KEY}.{name}: {exc}") from exc
        return cls(**{n: data[n] for n in names})


PAPER_SETTINGS = InferenceSettings()  # the one place the paper's crop factors are written


def resolve_settings(stored: InferenceSettings | None, template_factor: float | None = None,
                     search_factor: float | None = None, where: str = "checkpoint") -> InferenceSettings:
    """The settings to run with: an explicit override (not None), else the checkpoint's ``stored``
    settings, else the paper's values. Logs at INFO each value and where it came from."""
    base, base_source = (stored, f"stored in {where}") if stored is not None else (
        PAPER_SETTINGS, f"paper default; {where} stores none")
    overrides = {"template_factor": template_factor, "search_factor": search_factor}
    values, sources = {}, {}
    for name, override in overrides.items():
        if override is None:
            values[name], sources[name] = getattr(base, name), base_source
        else:
            values[name], sources[name] = check_factor(name, override), "explicit override"
    settings = InferenceSettings(**values)
    log.info("inference settings: %s", ", ".join(f"{k} {v:g} ({sources[k]})" for k, v in values.items()))
    return settings
