# `make run` and `make test` work on a fresh machine: they create .venv and install into it.
VENV := .venv
PYTHON := $(VENV)/bin/python
# Touched after a successful install; newer requirements files make it stale.
STAMP := $(VENV)/.requirements-installed

.PHONY: run test test-faults lint clean

run: $(STAMP)
	$(PYTHON) -m healix.launcher

test: $(STAMP)
	$(PYTHON) -m pytest

# The slower fault scenarios (docs/reliability.md); the faster ones run in `make test`.
test-faults: $(STAMP)
	$(PYTHON) -m pytest -m faults tests/e2e/faults

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf var

$(PYTHON):
	python3 -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PYTHON)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@
