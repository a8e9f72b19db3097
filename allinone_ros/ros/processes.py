"""Child processes of the demos: the tracker node's command line, and stopping them the way a terminal would."""
from __future__ import annotations

import signal
import subprocess
import sys


def interrupt(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGINT ``proc`` if it still runs (a ROS node shuts down cleanly), then kill it after ``timeout_s``."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def tracker_node_command(device: str, checkpoint: str = "", backend: str | None = None,
                         precision: str | None = None) -> list[str]:
    """The command line that starts ``tracker_node`` for a demo (reliable image QoS; unset values keep the
    node's defaults)."""
    cmd = [sys.executable, "-m", "allinone_ros.ros.tracker_node", "--ros-args", "-p", f"device:={device}",
           "-p", "qos_reliability:=reliable"]
    if checkpoint:
        cmd += ["-p", f"checkpoint:={checkpoint}"]
    for name, value in (("backend", backend), ("precision", precision)):
        if value is not None:
            cmd += ["-p", f"{name}:={value}"]
    return cmd
