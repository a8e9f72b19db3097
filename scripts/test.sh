#!/usr/bin/env bash
# The project's test command: set up everything on a fresh machine, then run the whole suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
if [ -f scripts/setup_ros.sh ]; then
  bash scripts/setup_ros.sh
  # shellcheck disable=SC1091
  set +u; source scripts/ros_env.sh; set -u
  export ALLINONE_REQUIRE_ROS=1  # ROS tests fail instead of skipping when the ROS env is broken
fi
PY="${ALLINONE_VENV:-$ROOT/.venv}/bin/python"
"$PY" -m pytest test -q -p no:cacheprovider "$@"
