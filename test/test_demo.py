"""The main job (``scripts/demo.sh`` -> ``allinone_ros.ros.demo``) end to end with real rclpy."""
import os
import random
import subprocess
import sys

import cv2
import pytest

from builders import tiny_checkpoint

if not os.environ.get("ALLINONE_REQUIRE_ROS"):
    pytest.importorskip("rclpy")


def test_demo_runs_node_operator_and_writes_video(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "tiny.pth")
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 200)), ALLINONE_CACHE_DIR=str(tmp_path / "engines"))
    out = subprocess.run(
        [sys.executable, "-m", "allinone_ros.ros.demo", "--checkpoint", str(ckpt), "--frames", "20", "--rate", "10",
         "--out", str(tmp_path / "demo"), "--backend", "onnxruntime"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "backend: onnxruntime fp32 (cpu)" in out.stdout + out.stderr  # the node runs the backend asked for
    lines = out.stdout.splitlines()
    frame_lines = [line for line in lines if line.startswith("frame ")]
    assert frame_lines and all("latency" in line and "IoU" in line for line in frame_lines)
    assert any(line.startswith("[demo] latency p50") for line in lines)
    assert any("'stop' -> idle: yes" in line for line in lines)
    cap = cv2.VideoCapture(str(tmp_path / "demo" / "demo.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 19  # one annotated frame per published frame after the first
    cap.release()
