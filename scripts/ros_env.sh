# shellcheck shell=bash
# Source me (bash): `source scripts/ros_env.sh`
# Activates the project venv (torch + ROS 2 wheels) and the colcon install of
# this package, so that `python -c "import rclpy, allinone_ros.msg"` works.
# Build first with scripts/setup_ros.sh. Honours ALLINONE_VENV like the setup scripts.

if ! (return 0 2>/dev/null); then
  echo "scripts/ros_env.sh must be sourced: source scripts/ros_env.sh" >&2
  exit 1
fi

_allinone_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_allinone_venv="${ALLINONE_VENV:-$_allinone_root/.venv}"

if [ ! -f "$_allinone_venv/bin/activate" ] || [ ! -f "$_allinone_root/install/setup.bash" ]; then
  echo "[ros_env] $_allinone_venv or $_allinone_root/install/setup.bash is missing: run scripts/setup_ros.sh" >&2
  unset _allinone_root _allinone_venv
  return 1
fi

# shellcheck disable=SC1091
source "$_allinone_venv/bin/activate"
# The ROS wheels install their ament index into the venv prefix: let ament
# (get_package_share_directory, the rmw lookup) see them. install/setup.bash
# below prepends this package's prefix, so the colcon install wins over the venv.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$_allinone_venv:"*) ;;
  *) export AMENT_PREFIX_PATH="$_allinone_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
# shellcheck disable=SC1091
source "$_allinone_root/install/setup.bash"
unset _allinone_root _allinone_venv
