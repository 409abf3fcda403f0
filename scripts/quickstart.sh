#!/usr/bin/env bash
# The main job: install zhipu_magic into .venv and run the quick-start notebook end to end,
# printing its answers. With no ZHIPUAI_API_KEY set it answers from the built-in local server
# (no network); with a key it talks to the real API.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# Install quietly; show pip's output only if it fails.
log=$(mktemp)
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[notebook]'; } >"$log" 2>&1; then
  cat "$log" >&2; exit 1
fi
.venv/bin/python scripts/run_notebook.py notebooks/01_quickstart.ipynb "$@"
