#!/usr/bin/env bash
# The project's main job: set everything up on a fresh machine, then run the tracker node (shipped
# default model unless --checkpoint is given) against a synthetic UAV camera with an operator that
# sends the sentence and the initial box. Prints per-frame latency and success against the ground
# truth, and writes an annotated video to out/demo/demo.mp4. Extra arguments go to allinone-demo.
# `bash scripts/demo.sh --follow` runs the closed-loop follow demo instead: tracker node + follow_controller
# node + simulated drone camera (out/follow_demo/: follow.mp4, follow_plot.png, follow_summary.json).
# ROS discovery stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) unless you set
# ROS_AUTOMATIC_DISCOVERY_RANGE or ROS_LOCALHOST_ONLY yourself; see scripts/transport_env.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
bash scripts/setup_ros.sh
# shellcheck disable=SC1091
set +u; source scripts/ros_env.sh; set -u
# shellcheck disable=SC1091
source scripts/transport_env.sh
exec python -m allinone_ros.ros.demo "$@"
