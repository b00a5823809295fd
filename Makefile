# `make run` and `make test` work on a fresh machine: they create .venv and install into it.
VENV := .venv
PYTHON := $(VENV)/bin/python
# Touched after a successful install; newer requirements files make it stale.
STAMP := $(VENV)/.requirements-installed

.PHONY: run test test-faults lint clean bench soak

run: $(STAMP)
	$(PYTHON) -m dev.launcher

test: $(STAMP)
	$(PYTHON) -m pytest

# Only the fault scenarios (docs/reliability.md); `make test` runs them too.
test-faults: $(STAMP)
	$(PYTHON) -m pytest tests/e2e/faults

# Every benchmark, one table (about 10 minutes; docs/performance.md).
# The REST figures want Debian's wrk as the load generator (bench/http_load.py); as root it is
# installed when missing, otherwise an asyncio client (which costs the server CPU) stands in.
bench: $(STAMP)
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || apt-get install -y -qq wrk >/dev/null || true
	$(PYTHON) bench/run_all.py

# The whole system under a steady load for 10 minutes (MINUTES=n to change; not in CI).
soak: $(STAMP)
	$(PYTHON) bench/soak.py --minutes $(or $(MINUTES),10)

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
