# shellcheck shell=bash
# Source me (bash): transport defaults for a one-machine run of the tracker (scripts/demo.sh).
# * ROS discovery limited to this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), unless the
#   user chose a discovery setting (ROS_AUTOMATIC_DISCOVERY_RANGE or the older ROS_LOCALHOST_ONLY).
# * Fast DDS profile for camera-sized frames (config/fastdds_large_frames.xml), unless the user
#   set FASTDDS_DEFAULT_PROFILES_FILE (or FASTRTPS_DEFAULT_PROFILES_FILE) already.
_allinone_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${ROS_AUTOMATIC_DISCOVERY_RANGE:-}" ] && [ -z "${ROS_LOCALHOST_ONLY:-}" ]; then
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
fi
if [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ] && [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="$_allinone_root/config/fastdds_large_frames.xml"
fi
echo "[transport] ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-} ROS_LOCALHOST_ONLY=${ROS_LOCALHOST_ONLY:-}" \
  "FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-}" >&2
unset _allinone_root
