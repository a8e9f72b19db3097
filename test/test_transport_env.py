"""scripts/transport_env.sh (sourced by scripts/demo.sh): localhost discovery and the large-frame profile by default."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KEYS = ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "FASTDDS_DEFAULT_PROFILES_FILE",
        "FASTRTPS_DEFAULT_PROFILES_FILE")


def sourced_env(**given: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env.update(given)
    script = 'source scripts/transport_env.sh && for k in ' + " ".join(KEYS) + '; do echo "$k=${!k:-}"; done'
    out = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines())


def test_defaults_to_localhost_discovery_and_the_shipped_profile() -> None:
    env = sourced_env()
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(REPO / "config" / "fastdds_large_frames.xml")


@pytest.mark.parametrize("given", [{"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}, {"ROS_LOCALHOST_ONLY": "0"}])
def test_a_discovery_setting_of_the_user_is_kept(given: dict[str, str]) -> None:
    env = sourced_env(**given)
    for key in KEYS[:2]:
        assert env[key] == given.get(key, "")


def test_a_profile_of_the_user_is_kept() -> None:
    assert sourced_env(FASTDDS_DEFAULT_PROFILES_FILE="/etc/my.xml")["FASTDDS_DEFAULT_PROFILES_FILE"] == "/etc/my.xml"
    env = sourced_env(FASTRTPS_DEFAULT_PROFILES_FILE="/etc/old.xml")
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == "" and env["FASTRTPS_DEFAULT_PROFILES_FILE"] == "/etc/old.xml"


def test_demo_sources_it_after_the_ros_environment() -> None:
    lines = (REPO / "scripts" / "demo.sh").read_text().splitlines()
    ros = next(i for i, line in enumerate(lines) if "source scripts/ros_env.sh" in line)
    transport = next(i for i, line in enumerate(lines) if line.strip() == "source scripts/transport_env.sh")
    run = next(i for i, line in enumerate(lines) if line.startswith("exec python -m allinone_ros.ros.demo"))
    assert ros < transport < run
