"""The closed-loop follow demo (``scripts/demo.sh --follow``), short: real rclpy, real nodes, shipped model."""
import json
import os
import random
import re
import subprocess
import sys

import cv2
import pytest

if not os.environ.get("ALLINONE_REQUIRE_ROS"):
    pytest.importorskip("rclpy")
    pytest.importorskip("geometry_msgs.msg")

FRAMES = 30


def test_follow_demo_flies_on_the_controllers_commands_and_writes_video_plot_summary(tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 200)), OMP_NUM_THREADS="1",
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    out = subprocess.run(
        [sys.executable, "-m", "allinone_ros.ros.demo", "--follow", "--frames", str(FRAMES), "--seed", "1",
         "--out", str(tmp_path / "follow")],
        capture_output=True, text=True, timeout=400, env=env,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    summary_line = re.search(r"\[follow-demo\] (\d+) frames: target in view ([\d.]+)%, \|offset\| mean ([\d.]+), "
                             r"p95 ([\d.]+); tracking ([\d.]+)%; commands applied by the simulator: (\d+)", text)
    assert summary_line, text[-3000:]
    assert int(summary_line.group(1)) == FRAMES
    frame_lines = [line for line in out.stdout.splitlines() if line.startswith("frame ")]
    assert len(frame_lines) == FRAMES and all("true offset" in line and "command vx" in line for line in frame_lines)
    summary = json.loads((tmp_path / "follow" / "follow_summary.json").read_text())
    assert summary["frames"] == FRAMES and len(summary["rows"]) == FRAMES
    assert summary["commands_applied"] > 0  # the simulator flew on the controller's TwistStamped stream
    moved = [row for row in summary["rows"] if any(v != 0.0 for v in row["command"])]
    assert moved, "the controller never commanded a non-zero velocity"
    assert 0.0 <= summary["in_view_fraction"] <= 1.0 and summary["tracking_fraction"] > 0.0
    cap = cv2.VideoCapture(str(tmp_path / "follow" / "follow.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()
    plot = cv2.imread(str(tmp_path / "follow" / "follow_plot.png"))
    assert plot is not None and plot.shape == (800, 1000, 3)
