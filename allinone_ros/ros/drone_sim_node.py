"""``drone_sim``: a simulated drone camera that follows velocity commands (for trying the loop).

Renders the ROS-free follow scene of :mod:`allinone_ros.simulation` (a target car driving its own
path over a large ground texture, parked cars, a tree it passes under) from a nadir camera whose
pose integrates the ``geometry_msgs/TwistStamped`` commands it receives (body frame, REP-103;
``linear.x/y/z`` and ``angular.z``; axis conventions in :mod:`allinone_ros.simulation.camera`),
delayed by ``latency`` seconds. Publishes one ``sensor_msgs/Image`` (rgb8, stamped with the node
clock) per period of ``rate_hz``; simulated time advances by exactly one period per image.

    ros2 run allinone_ros drone_sim --ros-args -p seed:=3 -p latency:=0.2

Parameters (read at start): seed, rate_hz, latency, response_time, altitude, background,
duration (s of target path; afterwards the target stands still), image_topic
(``/camera/image_raw``), command_topic (``/follow_controller/cmd_vel``), frame_id
(``uav_camera``), start_paused (hold the world still until :meth:`DroneSimNode.start`; the
demo uses it to hand the first image to the operator). A command with a non-finite component is
refused with a warning; ``angular.x/y`` are ignored (the vehicle only yaws), with a warning.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from ..simulation import BodyVelocity, CameraPose, DroneCamera, SimConfig, ViewTruth, plan_scene, render_view, start_pose
from .image_conversion import rgb_to_image_msg
from .node_base import run_node

SIM_NODE_NAME = "drone_sim"

_PARAMETERS: tuple[tuple[str, Any, str], ...] = (
    ("seed", 0, "Scene seed (target path, texture, trees, parked cars)."),
    ("rate_hz", 10.0, "Camera frame rate, Hz; simulated time advances 1 / rate_hz per image."),
    ("latency", 0.1, "Seconds from a received command to the vehicle acting on it."),
    ("response_time", 0.3, "Time constant of the vehicle's velocity response, s."),
    ("altitude", 45.0, "Start altitude above ground, m."),
    ("background", "", "Ground texture: fields, roads, urban, or '' = chosen by the seed."),
    ("duration", 120.0, "Seconds of target path; afterwards the target stands still."),
    ("image_topic", "/camera/image_raw", "sensor_msgs/Image output topic."),
    ("command_topic", "/follow_controller/cmd_vel", "geometry_msgs/TwistStamped input topic."),
    ("frame_id", "uav_camera", "header.frame_id of the images."),
    ("start_paused", False, "Publish the first image repeatedly and hold the world still until start()."),
)


@dataclass(frozen=True)
class SimFrame:
    """What the simulator published as image ``index``."""

    index: int
    t: float  # simulated time, s
    stamp_ns: int  # header stamp of the image
    truth: ViewTruth
    pose: CameraPose
    command: BodyVelocity  # the last command received before this image


class DroneSimNode(Node):
    """The simulator node (see the module docstring); ``on_frame`` sees every published image."""

    def __init__(self, on_frame: Callable[[SimFrame, np.ndarray], None] | None = None, **kwargs: Any) -> None:
        super().__init__(SIM_NODE_NAME, **kwargs)
        for name, default, description in _PARAMETERS:
            self.declare_parameter(name, default, ParameterDescriptor(description=description, read_only=True))
        p = {name: self.get_parameter(name).value for name, _, _ in _PARAMETERS}
        self.config = SimConfig(rate_hz=float(p["rate_hz"]), latency=float(p["latency"]),
                                response_time=float(p["response_time"]), altitude=float(p["altitude"]),
                                background=str(p["background"]))  # ValueError names a bad value
        if int(p["seed"]) < 0:
            raise ValueError(f"seed must be >= 0, got {p['seed']}")
        self.scene = plan_scene(self.config, int(p["seed"]), float(p["duration"]))
        self.drone = DroneCamera(self.config, start_pose(self.scene))
        self.frame_id = str(p["frame_id"])
        self.running = not bool(p["start_paused"])
        self.index, self.t = 0, 0.0
        self.commands_applied = 0  # commands received while the world moves
        self._last_command = BodyVelocity()
        self._last_tick = time.monotonic()
        self._on_frame = on_frame
        self._warned: set[str] = set()
        qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, str(p["image_topic"]), qos)
        self.create_subscription(TwistStamped, str(p["command_topic"]), self._on_command, 10)
        self.timer = self.create_timer(self.config.period, self._tick)
        self.get_logger().info(
            f"scene seed {p['seed']}: {self.scene.sentence!r}, {self.config.frame_width}x{self.config.frame_height} "
            f"at {self.config.rate_hz:g} Hz, latency {self.config.latency:g} s; images on "
            f"{self.resolve_topic_name(str(p['image_topic']))}, commands from "
            f"{self.resolve_topic_name(str(p['command_topic']))}")

    def start(self) -> None:
        """Let the world move (after ``start_paused``)."""
        self.running = True

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.get_logger().warning(message)

    def _on_command(self, msg: TwistStamped) -> None:
        t = msg.twist
        cmd = BodyVelocity(t.linear.x, t.linear.y, t.linear.z, t.angular.z)
        if not all(math.isfinite(v) for v in (*cmd.as_array(), t.angular.x, t.angular.y)):
            self._warn_once(f"command refused: non-finite component in linear {tuple(cmd.as_array()[:3])}, "
                            f"angular ({t.angular.x}, {t.angular.y}, {t.angular.z})")
            return
        if t.angular.x != 0.0 or t.angular.y != 0.0:
            self._warn_once("angular.x / angular.y of commands are ignored: the simulated vehicle only yaws")
        self._last_command = cmd
        if self.running:
            self.commands_applied += 1
            since_tick = min(max(time.monotonic() - self._last_tick, 0.0), self.config.period)
            self.drone.command(cmd, at=self.drone.time + since_tick)

    def _tick(self) -> None:
        self._last_tick = time.monotonic()
        if self.running and self.index > 0:
            self.drone.advance(self.config.period)
            self.t += self.config.period
        frame, truth = render_view(self.scene, self.drone.pose, self.t)
        msg = rgb_to_image_msg(frame, "rgb8", None)
        now = self.get_clock().now()
        msg.header.stamp, msg.header.frame_id = now.to_msg(), self.frame_id
        record = SimFrame(self.index, self.t, now.nanoseconds, truth, self.drone.pose, self._last_command)
        self.image_pub.publish(msg)
        if self._on_frame is not None:
            self._on_frame(record, frame)
        if self.running:
            self.index += 1


def main(args: list[str] | None = None) -> int:
    """Entry point: start the simulator node and spin until shutdown (1 on an invalid parameter)."""
    return run_node(DroneSimNode, SIM_NODE_NAME, args, startup_errors=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
