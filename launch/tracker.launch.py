"""Start the All-in-One tracker node.

    ros2 launch allinone_ros tracker.launch.py image_topic:=/camera/image_raw \
        checkpoint:=/path/to/allinone.pth debug_image:=true namespace:=front
    ros2 launch allinone_ros tracker.launch.py device:=cuda backend:=tensorrt precision:=fp16
    ros2 launch allinone_ros tracker.launch.py follow:=true command_topic:=/uav/cmd_vel

Arguments:
  params_file  parameter YAML for the node (default: share/allinone_ros/config/tracker.yaml)
  checkpoint   model checkpoint path; overrides the params file's `checkpoint` when not empty
  image_topic  camera topic (sensor_msgs/Image), sets the node's `image_topic` parameter
  namespace    ROS namespace of the node and its relative topics ("" = none)
  debug_image  true/false: publish the annotated debug image (`debug_image` parameter)
  device       cpu, cuda or cuda:N; overrides the params file's `device` when not empty
  backend      eager, onnxruntime, compile, tensorrt or auto; overrides `backend` when not empty
  precision    fp32, fp16 or bf16; overrides `precision` when not empty
  follow       true/false: also start the follow_controller node (same namespace), reading
               tracker_node/target and publishing geometry_msgs/TwistStamped body-frame velocities
  command_topic  the controller's output topic (default: follow_controller/cmd_vel in the namespace)
  fastdds_profile  Fast DDS XML profile for the node (FASTDDS_DEFAULT_PROFILES_FILE). Default "": the
               environment's FASTDDS_DEFAULT_PROFILES_FILE if set, else the package's
               config/fastdds_large_frames.xml (shared memory with a segment for camera-sized frames);
               "none" leaves the environment as it is. The camera driver needs the same profile
               (README, "Large frames").
"""
from __future__ import annotations

import os

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _parse_bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"launch argument {name}:={text!r} is not a boolean (use true or false)")


def _fastdds_environment(context: LaunchContext) -> dict[str, str]:
    """FASTDDS_DEFAULT_PROFILES_FILE for the node (see the fastdds_profile argument)."""
    chosen = LaunchConfiguration("fastdds_profile").perform(context).strip()
    if chosen.lower() == "none":
        return {}
    if not chosen:
        chosen = os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE", "") or PathJoinSubstitution(
            [FindPackageShare("allinone_ros"), "config", "fastdds_large_frames.xml"]).perform(context)
    if not os.path.isfile(chosen):
        raise ValueError(f"launch argument fastdds_profile: {chosen!r} is not a file")
    return {"FASTDDS_DEFAULT_PROFILES_FILE": chosen}


def _tracker_node(context: LaunchContext) -> list[Node]:
    overrides: dict[str, object] = {
        "debug_image": _parse_bool("debug_image", LaunchConfiguration("debug_image").perform(context)),
        "image_topic": LaunchConfiguration("image_topic").perform(context),
    }
    optional = {
        "checkpoint": LaunchConfiguration("checkpoint"),
        "device": LaunchConfiguration("device"),
        "backend": LaunchConfiguration("backend"),
        "precision": LaunchConfiguration("precision"),
    }
    for name, argument in optional.items():
        value = argument.perform(context)
        if value:  # empty keeps the value from params_file
            overrides[name] = value
    return [
        Node(
            package="allinone_ros",
            executable="tracker_node",
            name="tracker_node",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file"), overrides],
            output="screen",
            emulate_tty=True,
            additional_env=_fastdds_environment(context),
        )
    ]


def _follow_controller(context: LaunchContext) -> list[Node]:
    if not _parse_bool("follow", LaunchConfiguration("follow").perform(context)):
        return []
    return [
        Node(
            package="allinone_ros",
            executable="follow_controller",
            name="follow_controller",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                PathJoinSubstitution([FindPackageShare("allinone_ros"), "config", "follow_controller.yaml"]),
                {
                    "target_topic": "tracker_node/target",  # relative: the tracker's output in the same namespace
                    "command_topic": LaunchConfiguration("command_topic").perform(context),
                },
            ],
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file",
                default_value=PathJoinSubstitution([FindPackageShare("allinone_ros"), "config", "tracker.yaml"]),
                description="Parameter YAML file for the tracker node",
            ),
            DeclareLaunchArgument(
                "checkpoint",
                default_value="",
                description="Model checkpoint; empty keeps the params file's value",
            ),
            DeclareLaunchArgument(
                "image_topic",
                default_value="/camera/image_raw",
                description="sensor_msgs/Image topic to track on",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node"),
            DeclareLaunchArgument(
                "device", default_value="", description="cpu, cuda or cuda:N; empty keeps the params file's value",
            ),
            DeclareLaunchArgument(
                "backend", default_value="",
                description="eager, onnxruntime, compile, tensorrt or auto; empty keeps the params file's value",
            ),
            DeclareLaunchArgument(
                "precision", default_value="", description="fp32, fp16 or bf16; empty keeps the params file's value",
            ),
            DeclareLaunchArgument(
                "fastdds_profile", default_value="",
                description="Fast DDS XML profile for the node; empty: $FASTDDS_DEFAULT_PROFILES_FILE, else the "
                            "package's config/fastdds_large_frames.xml; none: leave the environment as it is",
            ),
            DeclareLaunchArgument(
                "debug_image",
                default_value="false",
                description="Publish the annotated debug image (true/false)",
            ),
            DeclareLaunchArgument(
                "follow", default_value="false",
                description="Also start the follow_controller node (velocity setpoints from the target; true/false)",
            ),
            DeclareLaunchArgument(
                "command_topic", default_value="follow_controller/cmd_vel",
                description="geometry_msgs/TwistStamped output topic of the follow controller",
            ),
            OpaqueFunction(function=_tracker_node),
            OpaqueFunction(function=_follow_controller),
        ]
    )
