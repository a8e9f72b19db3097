"""ROS-free closed loop: simulated drone camera -> tracker -> follow controller -> drone.

One *episode* plays a :class:`~allinone_ros.simulation.scene.FollowScene` for ``frames`` frames
at the camera rate. Frame k is rendered at t_k = k / rate_hz from the current pose; the node's
target lifecycle (:class:`~allinone_ros.lifecycle.TargetLifecycle`: started on frame 0 with the
true box and the scene's sentence, then one image at a time) gives the state, box and confidence
the node would publish (LOST: the last known box); the controller's command, given ``processing_delay`` s after the image (tracking + control time), acts
on the vehicle ``SimConfig.latency`` s later. With ``control=False`` the camera stays where it
started (the baseline: the same scene without control; no tracker is needed then).

The scores use the ground truth, not the tracker: a frame is *in view* when the target's box
centre is inside the image; ``|offset|`` is the Euclidean norm of the true centre offset
(normalised like ``TrackedTarget``), averaged over all frames.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from ..control import FollowConfig, FollowController, TargetObservation
from ..lifecycle.states import TargetState
from ..data.synthetic import clip_box_to_frame
from .camera import BodyVelocity, CameraPose, DroneCamera
from .config import SimConfig
from .render import ViewTruth, render_view, view_truth
from .scene import FollowScene

log = logging.getLogger(__name__)


class TargetRunner(Protocol):
    """What the loop drives: :class:`~allinone_ros.lifecycle.TargetLifecycle` (the node's code)."""

    def request(self, sentence: str = "", box_xywh: Any = None, image_rgb: np.ndarray | None = None) -> Any: ...
    def process(self, image_rgb: np.ndarray) -> Any: ...


@dataclass(frozen=True)
class LoopConfig:
    frames: int = 300
    control: bool = True  # False: fixed camera (the baseline)
    processing_delay: float = 0.05  # s from an image to its command

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"frames must be >= 2, got {self.frames}")
        if not 0.0 <= self.processing_delay <= 5.0:
            raise ValueError(f"processing_delay must be in [0, 5] s, got {self.processing_delay}")


@dataclass(frozen=True)
class FrameLog:
    t: float
    true_offset_x: float
    true_offset_y: float
    in_view: bool
    under_tree: bool
    state: int
    offset_x: float  # as the tracker reported it (0 outside TRACKING)
    offset_y: float
    confidence: float
    vx: float
    vy: float
    vz: float
    yaw_rate: float
    x: float
    y: float
    altitude: float
    yaw: float


def summarize(logs: list[FrameLog]) -> dict[str, float]:
    """In-view fraction and |offset| statistics of an episode (see the module docstring)."""
    if not logs:
        raise ValueError("no frames to summarise")
    in_view = np.array([f.in_view for f in logs])
    abs_off = np.array([np.hypot(f.true_offset_x, f.true_offset_y) for f in logs])
    tracking = np.array([f.state == TargetState.TRACKING for f in logs])
    return {
        "frames": len(logs),
        "in_view_fraction": float(in_view.mean()),
        "mean_abs_offset": float(abs_off.mean()),
        "p95_abs_offset": float(np.percentile(abs_off, 95)),
        "mean_abs_offset_in_view": float(abs_off[in_view].mean()) if in_view.any() else float("nan"),
        "tracking_fraction": float(tracking.mean()),
        "first_out_of_view_frame": int(np.argmin(in_view)) if not in_view.all() else -1,
    }


def start_pose(scene: FollowScene) -> CameraPose:
    """Above the target at t = 0, heading along its direction of travel."""
    car = scene.target_at(0.0)
    return CameraPose(car.x, car.y, scene.config.altitude, car.heading)


def _observe(target: TargetRunner, frame: np.ndarray, k: int, truth: ViewTruth,
             scene: FollowScene) -> tuple[TargetState, np.ndarray, float]:
    """State, box and confidence as the node publishes them for frame ``k`` (LOST: the last known box)."""
    cfg = scene.config
    if k == 0:
        box = clip_box_to_frame(truth.box_xywh, cfg.frame_width, cfg.frame_height)
        result = target.request(scene.sentence, box, frame)
    else:
        result = target.process(frame)
    state = TargetState(int(result.state))
    shown = result.reported_box_xywh
    box = np.zeros(4) if shown is None else np.asarray(shown, dtype=np.float64)
    return state, box, float(result.confidence)


def run_episode(scene: FollowScene, follow: FollowConfig, loop: LoopConfig, target: TargetRunner | None,
                on_frame: Callable[[np.ndarray, FrameLog], None] | None = None) -> list[FrameLog]:
    """Play ``scene`` for ``loop.frames`` frames; returns one :class:`FrameLog` per frame."""
    if loop.control and target is None:
        raise ValueError("a closed-loop episode (control=True) needs a target lifecycle")
    cfg: SimConfig = scene.config
    drone, controller = DroneCamera(cfg, start_pose(scene)), FollowController(follow)
    logs: list[FrameLog] = []
    for k in range(loop.frames):
        t, pose = k * cfg.period, drone.pose
        if loop.control or on_frame is not None:
            frame, truth = render_view(scene, pose, t)
        else:
            frame, truth = np.empty(0), view_truth(scene, pose, t)
        state, box, confidence, command = TargetState.IDLE, np.zeros(4), 0.0, BodyVelocity()
        off = (0.0, 0.0)
        if loop.control:
            assert target is not None
            state, box, confidence = _observe(target, frame, k, truth, scene)
            obs = TargetObservation(int(state), tuple(float(v) for v in box), cfg.frame_width, cfg.frame_height, t)
            if state == TargetState.TRACKING:
                off = obs.offsets()
            cmd = controller.update(obs, t + loop.processing_delay)
            command = BodyVelocity(cmd.vx, cmd.vy, cmd.vz, cmd.yaw_rate)
            drone.command(command, at=t + loop.processing_delay)
        entry = FrameLog(t, truth.offset_x, truth.offset_y, truth.in_view, truth.under_tree, int(state), off[0], off[1],
                         confidence, command.vx, command.vy, command.vz, command.yaw_rate, pose.x, pose.y,
                         pose.altitude, pose.yaw)
        logs.append(entry)
        if on_frame is not None:
            on_frame(frame, entry)
        drone.advance(cfg.period)
    return logs


def logs_as_dicts(logs: list[FrameLog]) -> list[dict[str, Any]]:
    return [asdict(f) for f in logs]
