# MedFit: `make run` starts the app with a demo, `make test` runs the whole suite.
# With DATABASE_URL / REDIS_URL unset, an embedded PostgreSQL and Redis run with data under .data/.

# Debian's /usr/bin/python3.11 when it can make a venv: it is built with profile-guided optimisation, like the
# production image's (python:3.11-slim-bookworm), where pyenv's default build is not; the pages cost about 17 %
# less CPU on it (docs/architecture.md, "Speed"). Else the first python3.11 on the PATH.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell /usr/bin/python3.11 -c "import ensurepip, venv" 2>/dev/null && echo /usr/bin/python3.11 || echo python3.11)
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WITH_SERVICES := $(PY) -m clinic.devservices run --

.PHONY: run test lint bench bench-profile loadtest faults install system-packages clean-data

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	@$(PYTHON) tests/system_packages.py run
	@mkdir -p .data
	DEBUG=$${DEBUG:-1} $(WITH_SERVICES) $(PY) -m clinic.devrun

# Installs the missing Debian packages the tests need when it may (root or passwordless sudo), else
# prints the apt-get line and stops. `make run` does the same for the fewer it needs.
system-packages:
	@$(PYTHON) tests/system_packages.py test

# pytest-xdist processes: one per core, at most 2 (each has its own test database and Redis databases,
# tests/settings.py); tests marked xdist_group share one process. TEST_WORKERS=0 runs in this one process.
TEST_WORKERS ?= $(shell [ "$$(nproc 2>/dev/null || echo 1)" -ge 2 ] && echo 2 || echo 0)

# --tests: the embedded PostgreSQL is the test server (.data/pg-test, not durable: clinic/devservices.py).
test: install system-packages
	MEDFIT_TEST_REDIS_DB=1 $(PY) -m clinic.devservices run --tests -- $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(WITH_SERVICES) $(PY) -m bench.run $(BENCH_ARGS)

# Where the patient list's and the referral queue's time goes (pyinstrument, bench/profile.py).
bench-profile: install
	$(WITH_SERVICES) $(PY) -m bench.profile $(PROFILE_ARGS)

# Many staff at once through gunicorn with production settings, on bench's data set (bench/loadtest.py).
loadtest: install
	$(WITH_SERVICES) $(PY) -m bench.loadtest $(LOADTEST_ARGS)

# Kills workers, Redis, PostgreSQL and make run itself on a stack of its own (tests/faultreport.py).
faults: install
	$(PY) -m tests.faultreport

clean-data:
	rm -rf .data
