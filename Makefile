# MedFit: `make run` starts the app with a demo, `make test` runs the whole suite.
# With DATABASE_URL / REDIS_URL unset, an embedded PostgreSQL and Redis run with data under .data/.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WITH_SERVICES := $(PY) -m clinic.devservices run --

.PHONY: run test lint bench install check-system clean-data

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	@mkdir -p .data
	DEBUG=$${DEBUG:-1} $(WITH_SERVICES) $(PY) -m clinic.devrun

check-system:
	@$(PY) tests/check_system.py

test: install check-system
	MEDFIT_TEST_REDIS_DB=1 $(WITH_SERVICES) $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(WITH_SERVICES) $(PY) -m bench.run $(BENCH_ARGS)

clean-data:
	rm -rf .data
