# The two entry points of the README: `make demo` and `make test`.
# Everything is installed into .venv from requirements.lock (exact pins).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint lock clean mutation

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml tools/system-packages.sh
	bash tools/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/anomwatch demo

test: $(STAMP)
	$(BIN)/python -m pytest

# Mutation testing of the guarantee modules ([tool.mutmut] in pyproject.toml); slow, not in CI.
# Survivors: .venv/bin/mutmut results, .venv/bin/mutmut show NAME.
mutation: $(STAMP)
	rm -rf mutants
	nice -n 10 $(BIN)/mutmut run --max-children 2
	$(BIN)/python bench/mutation_score.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

lock:
	rm -rf /tmp/anomwatch-lock && $(PYTHON) -m venv /tmp/anomwatch-lock
	/tmp/anomwatch-lock/bin/pip install --quiet -r requirements.in
	/tmp/anomwatch-lock/bin/pip freeze --exclude anomwatch > requirements.lock

clean:
	rm -rf $(VENV) .anomwatch demo-output mutants
