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
  echo "venv: creating .venv with $("$PY" --version) and uv"
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -qq "uv==0.13.8"
fi
echo "venv: installing the locked packages (uv.lock)"
.venv/bin/uv sync --frozen --quiet --python .venv/bin/python
# The assets the published Data Docs load offline (upstream.data_docs), pinned by the lockfile;
# installed again only when the lockfile changes.
vendor=include/upstream/vendor
if ! cmp -s "$vendor/package-lock.json" "$vendor/node_modules/.package-lock.json.installed" 2>/dev/null; then
  command -v npm >/dev/null 2>&1 || {
    echo "bootstrap: npm (Node.js) is required to install the Data Docs assets in $vendor" >&2
    exit 1
  }
  echo "venv: installing the Data Docs assets (npm ci in $vendor)"
  npm ci --prefix "$vendor" --ignore-scripts --no-audit --no-fund --loglevel=error
  cp "$vendor/package-lock.json" "$vendor/node_modules/.package-lock.json.installed"
fi
