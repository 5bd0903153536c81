# Two commands matter: `make demo` (the whole loop on this laptop) and `make test`.
# Each creates .venv and installs what it needs; nothing is installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch from PyPI defaults to a multi-GB CUDA build; this CPU build is what the demo needs.
TORCH  ?= torch==2.13.0
# The Claude Code CLI, for the tests of the `claude_code` analysis engine (a local install).
# Its version is pinned once, in actions/claude-code-version (the analyze action uses it too).
CLAUDE_CODE ?= @anthropic-ai/claude-code@$(shell cat actions/claude-code-version)
TOOLS  := .tools
CLAUDE := $(TOOLS)/node_modules/.bin/claude
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet
# The tested versions (pyproject.toml has the accepted ranges).
PINS   := -c constraints.txt

# Test workers (pytest-xdist): two per core, since many tests wait on the processes they
# start (measured on 2 cores: 4 workers beat 2 by about 10%); PYTEST_WORKERS=0 runs in-process.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(2 * (os.cpu_count() or 1))")
PYTEST := HARNESS_TEST_CLAUDE_BIN="$(abspath $(CLAUDE))" $(BIN)/pytest -n $(PYTEST_WORKERS) \
	--durations=15

.PHONY: demo agent-demo test test-fast lint typecheck unit clean act-launch

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per set of extras, redone whenever pyproject.toml changes.
$(VENV)/.demo-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install "$(TORCH)"
	$(PIP) install $(PINS) -e ".[train,plot]"
	touch $@

$(VENV)/.test-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install "$(TORCH)"
	$(PIP) install $(PINS) -e ".[train,llm,github,dev,plot,integrations]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python misc/demo.py

# A scripted coding agent (deterministic, no LLM) searches hyperparameters through the CLI's
# JSON: baseline, branches off the current best, wait for each verdict, keep what wins.
agent-demo: $(VENV)/.demo-installed
	$(BIN)/python misc/agent_demo.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/zizmor --offline --quiet --min-severity medium .github/ actions/
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions actions/*/action.yml

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

$(CLAUDE):
	npm install --no-audit --no-fund --silent --prefix $(TOOLS) "$(CLAUDE_CODE)"

unit: $(VENV)/.test-installed $(CLAUDE)
	$(PYTEST)

test: lint typecheck unit

# The inner loop: lint and every test but the slow end-to-end ones (act, the demo, real
# training runs, the wandb client against the local server); about a minute.
test-fast: $(VENV)/.test-installed $(CLAUDE)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(PYTEST) -m "not slow"

# Push -> run on this machine: the launch workflow under act with the local backend, for
# the current branch (or BRANCH=exp/x). The run lands in .harness/ like a launch-job run.
act-launch: $(VENV)/.test-installed
	$(BIN)/python misc/act_run.py launch $(BRANCH)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
