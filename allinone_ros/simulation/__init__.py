"""Simulated drone camera in the loop (ROS-free): follow scene, vehicle, renderer, closed-loop runner."""
from .camera import BodyVelocity, CameraPose, DroneCamera, world_to_image
from .closed_loop import FrameLog, LoopConfig, run_episode, start_pose, summarize
from .config import SimConfig, sim_config_from_dict
from .render import ViewTruth, render_view, view_truth
from .scene import FollowScene, plan_scene

__all__ = [
    "BodyVelocity", "CameraPose", "DroneCamera", "FollowScene", "FrameLog", "LoopConfig", "SimConfig",
    "ViewTruth", "plan_scene", "render_view", "run_episode", "sim_config_from_dict",
    "start_pose", "summarize", "view_truth", "world_to_image",
]
