#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv with everything the core needs.
# Idempotent: re-running only installs what changed in requirements/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ALLINONE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

stamp="$VENV/.allinone-core-stamp"
want="$(cat "$ROOT/requirements/core.txt" "$ROOT/requirements/test.txt" "$ROOT/setup.py" "$ROOT/setup.cfg" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing core + test requirements"
  "${PIP[@]}" install -q -r "$ROOT/requirements/core.txt" -r "$ROOT/requirements/test.txt"
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
  echo "$want" > "$stamp"
else
  echo "[setup] core requirements up to date"
fi
