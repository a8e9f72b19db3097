"""Tracker settings (defaults reproduce the released tracker)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..ops.devices import validate_device
from ..model.inference_settings import PAPER_SETTINGS, InferenceSettings, check_factor


@dataclass(frozen=True)
class TrackerConfig:
    """How the tracker runs.

    ``template_factor`` / ``search_factor``: None = the checkpoint's stored values (the paper's,
    2.0 / 4.0, for a checkpoint without them; see :mod:`allinone_ros.model.inference_settings`),
    a number = an explicit override. A :class:`~allinone_ros.tracker.Tracker` built directly
    around a model (not through ``build_tracker``) uses the paper's values for None.
    """

    template_factor: float | None = None
    search_factor: float | None = None
    hann_window: bool = True
    clip_margin: int = 10
    device: str = "cpu"
    attn_impl: str = "sdpa"
    text_cache_size: int = 64

    def __post_init__(self) -> None:
        for name in ("template_factor", "search_factor"):
            if getattr(self, name) is not None:
                check_factor(name, getattr(self, name))
        if self.clip_margin < 0:
            raise ValueError(f"clip_margin must be >= 0, got {self.clip_margin}")
        validate_device(self.device)

    def with_settings(self, settings: InferenceSettings = PAPER_SETTINGS) -> TrackerConfig:
        """This config with its unset (None) crop factors taken from ``settings``."""
        return replace(self, template_factor=settings.template_factor if self.template_factor is None
                       else self.template_factor,
                       search_factor=settings.search_factor if self.search_factor is None else self.search_factor)
