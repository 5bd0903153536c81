#!/usr/bin/env bash
# Install the pinned Claude Code CLI when the repository's harness.yaml picks the
# claude_code analysis engine (nothing otherwise), under $RUNNER_TEMP, and hand its path to
# the next steps as HARNESS_CLAUDE_BIN. Runs after install.sh (it asks the harness which
# engine is configured). npm's cache and prefix live under $RUNNER_TEMP: under act the
# job's HOME may not be the runner's real one, and npm must not write there.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/harness-venv"
engine="$("$venv/bin/python" -c 'from harness.config import load_settings; print(load_settings().analysis.engine)')"
if [ "$engine" != "claude_code" ]; then
  echo "analysis.engine is $engine: the Claude Code CLI is not needed"
  exit 0
fi
version="$(tr -d '[:space:]' < "$src/actions/claude-code-version")"
prefix="$RUNNER_TEMP/claude-code"
if [ ! -x "$prefix/node_modules/.bin/claude" ]; then
  command -v npm >/dev/null 2>&1 || { echo "::error::npm is needed to install the Claude Code CLI"; exit 1; }
  npm_config_cache="$RUNNER_TEMP/npm-cache" npm install --no-audit --no-fund --silent \
    --prefix "$prefix" "@anthropic-ai/claude-code@$version"
fi
"$prefix/node_modules/.bin/claude" --version
echo "HARNESS_CLAUDE_BIN=$prefix/node_modules/.bin/claude" >> "${GITHUB_ENV:?GITHUB_ENV is not set}"
