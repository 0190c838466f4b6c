#!/usr/bin/env bash
# Creates (or reuses) the virtualenv the end-to-end tests run in and prints its python.
# Kept outside the clone so CI's warm runs reuse it; rebuilt when requirements change.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
requirements="$root/tests/e2e/requirements.txt"
venv="${PERISCOPE_VENV:-$HOME/.cache/periscope-venv}"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
