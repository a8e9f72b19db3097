"""Child processes of the demos: stop them the way a terminal would."""
from __future__ import annotations

import signal
import subprocess


def interrupt(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGINT ``proc`` if it still runs (a ROS node shuts down cleanly), then kill it after ``timeout_s``."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
