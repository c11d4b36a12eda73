#!/usr/bin/env bash
# Create or refresh .venv from uv.lock. Needs only Python 3.11; uv comes from PyPI if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
  echo "bootstrap: Python 3.11 is required (found $("$PY" --version 2>&1)); set PYTHON=..." >&2
  exit 1
}
if [ ! -x .venv/bin/uv ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet "uv==0.13.8"
fi
.venv/bin/uv sync --frozen --quiet --python .venv/bin/python
