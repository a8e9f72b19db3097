"""Typed, frozen configuration of the simulated drone camera and of its follow scene.

Units: metres, seconds, radians (``hfov_deg`` in degrees), pixels for the image size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from ..data.synthetic import BACKGROUNDS, COLOURS_RGB


@dataclass(frozen=True)
class SimConfig:
    """The camera, the vehicle's response to velocity commands, and the follow scene.

    Camera: nadir (looking straight down), image top = vehicle front (see
    :mod:`allinone_ros.simulation.camera` for the axes). ``latency`` delays every command
    before the vehicle starts to follow it (transport + autopilot); the vehicle then reaches the
    commanded body velocity with a first-order lag of time constant ``response_time``.
    """

    frame_width: int = 640
    frame_height: int = 360
    hfov_deg: float = 75.0
    rate_hz: float = 10.0  # camera frame rate
    latency: float = 0.1  # s from a command to the vehicle acting on it
    response_time: float = 0.3  # s, first-order lag of the vehicle's velocity
    altitude: float = 45.0  # m above ground at the start
    min_altitude: float = 10.0
    max_altitude: float = 120.0
    world_size: float = 360.0  # m, side of the square world
    metres_per_pixel: float = 0.15  # resolution of the world's ground texture
    target_speed: tuple[float, float] = (2.0, 6.0)  # m/s range of the target's speed
    max_turn_rate: float = 0.35  # rad/s, largest turn rate of the target
    target_length: float = 4.5  # m (a car; its width is half of this)
    distractors: int = 3  # parked cars of other colours near the target's path
    background: str = ""  # fields, roads, urban or "" = drawn per seed
    target_colour: str = "red"

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            numbers = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v) for v in numbers):
                problems.append(f"{f.name} must be finite, got {value}")
        if problems:
            raise ValueError("; ".join(problems))
        checks = [
            (self.frame_width >= 64 and self.frame_height >= 48, f"frame size must be at least 64x48, got "
                                                                 f"{self.frame_width}x{self.frame_height}"),
            (10.0 <= self.hfov_deg <= 150.0, f"hfov_deg must be in [10, 150], got {self.hfov_deg}"),
            (0.0 < self.rate_hz <= 200.0, f"rate_hz must be in (0, 200], got {self.rate_hz}"),
            (0.0 <= self.latency <= 5.0, f"latency must be in [0, 5] s, got {self.latency}"),
            (0.0 <= self.response_time <= 10.0, f"response_time must be in [0, 10] s, got {self.response_time}"),
            (0.0 < self.min_altitude <= self.altitude <= self.max_altitude,
             f"need 0 < min_altitude <= altitude <= max_altitude, got {self.min_altitude}, {self.altitude}, "
             f"{self.max_altitude}"),
            (self.metres_per_pixel > 0 and self.world_size / self.metres_per_pixel <= 6000,
             f"world_size / metres_per_pixel must be a texture of at most 6000 px, got {self.world_size} / "
             f"{self.metres_per_pixel}"),
            (0.0 <= self.target_speed[0] <= self.target_speed[1] <= 40.0,
             f"target_speed must satisfy 0 <= lo <= hi <= 40, got {self.target_speed}"),
            (0.0 <= self.max_turn_rate <= 2.0, f"max_turn_rate must be in [0, 2], got {self.max_turn_rate}"),
            (0.5 <= self.target_length <= 50.0, f"target_length must be in [0.5, 50] m, got {self.target_length}"),
            (0 <= self.distractors <= 20, f"distractors must be in [0, 20], got {self.distractors}"),
            (self.background in ("", *BACKGROUNDS), f"background must be one of {BACKGROUNDS} or '', "
                                                    f"got {self.background!r}"),
            (self.target_colour in COLOURS_RGB, f"target_colour must be one of {list(COLOURS_RGB)}, "
                                                f"got {self.target_colour!r}"),
        ]
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def focal_px(self) -> float:
        """Focal length in pixels from the horizontal field of view."""
        return (self.frame_width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def period(self) -> float:
        return 1.0 / self.rate_hz


def sim_config_from_dict(data: dict[str, Any]) -> SimConfig:
    """Strict mapping (YAML) -> :class:`SimConfig`; unknown keys are an error naming them."""
    from ..config_io import from_dict

    return from_dict(SimConfig, data, where="simulation")
