#!/usr/bin/env bash
# Install the harness from this action's own repository (not the workspace's) into a venv
# under $RUNNER_TEMP: not editable, and never into whatever pip is on PATH. Runs once per
# job; the analyze and comment actions share the venv.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/harness-venv"
if [ -x "$venv/bin/harness" ]; then
  exit 0
fi
python="$(command -v python3 || command -v python)"
if command -v uv >/dev/null 2>&1; then
  uv venv --quiet --python "$python" "$venv"
  uv pip install --quiet --python "$venv/bin/python" -c "$src/constraints.txt" "$src[github,llm]"
else
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$src/constraints.txt" "$src[github,llm]"
fi
"$venv/bin/harness" --version
