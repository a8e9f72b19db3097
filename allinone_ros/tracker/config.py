"""Tracker settings (defaults reproduce the released tracker)."""
from __future__ import annotations

from dataclasses import dataclass

DEVICES_HELP = "'cpu', 'cuda', 'cuda:N'"


@dataclass(frozen=True)
class TrackerConfig:
    template_factor: float = 2.0
    search_factor: float = 4.0
    hann_window: bool = True
    clip_margin: int = 10
    device: str = "cpu"
    attn_impl: str = "sdpa"
    text_cache_size: int = 64

    def __post_init__(self) -> None:
        if self.template_factor <= 0 or self.search_factor <= 0:
            raise ValueError(
                f"crop factors must be > 0, got template {self.template_factor}, search {self.search_factor}"
            )
        if self.clip_margin < 0:
            raise ValueError(f"clip_margin must be >= 0, got {self.clip_margin}")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise ValueError(f"device must be one of {DEVICES_HELP}, got {self.device!r}")
