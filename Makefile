# secure-vote: the two commands of the quick start are `make up` and `make test`.
# Everything runs inside .venv, created by uv from uv.lock (uv is installed with pip if missing).

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SERVICES := auth election voting results frontend
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install up test test-deps lint format requirements check-requirements bench validate-deploy js clean

help:
	@echo "make up          run all five services in one process on http://$(HOST):$(PORT)/"
	@echo "make test        run every test (SQLite and PostgreSQL)"
	@echo "make lint        ruff, mypy --strict on shared/, requirements up to date"
	@echo "make bench       run the benchmarks (they print figures)"
	@echo "make requirements  export each service's pinned requirements.txt from uv.lock"
	@echo "make validate-deploy  offline validators: images, compose, Kubernetes, CI, monitoring"
	@echo "make js          rebuild the browser crypto bundle (frontend-service/js)"

.venv/.installed: uv.lock pyproject.toml */pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.installed

up: install
	$(UV) run --frozen securevote up --host $(HOST) --port $(PORT)

# What the tests need beyond the virtual environment: Debian's Chromium for the browser tests
# (installed with apt when missing; never a downloaded browser), the browser crypto's and
# axe-core's npm packages from their lock files.
test-deps: install
	@command -v chromium >/dev/null 2>&1 || [ -n "$$SECUREVOTE_CHROMIUM" ] || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends chromium fonts-dejavu-core >/dev/null; }
	cd frontend-service/js && npm ci --no-audit --no-fund --silent
	npm ci --ignore-scripts --no-audit --no-fund --silent --prefix frontend-service/tests/axe

# The browser crypto's own tests (node --test) first, then every Python test; pytest's summary
# is the last thing printed.
test: test-deps
	cd frontend-service/js && npm test --silent
	$(UV) run --frozen pytest

lint: install check-requirements
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy --strict shared/src

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# Each service's requirements.txt pins every third-party package and the shared library
# (as ./shared), exported from the one lock file. Containers install from it.
requirements:
	@for s in $(SERVICES); do \
		$(UV) export --frozen --package $$s-service --no-dev --no-hashes --no-editable \
			--no-emit-project --quiet --output-file $$s-service/requirements.txt || exit 1; \
	done

check-requirements: requirements
	@git diff --quiet -- '*/requirements.txt' \
		|| { echo "a requirements.txt was out of date: commit the re-exported files"; exit 1; }

bench: install
	@for script in benchmarks/*_bench.py; do \
		echo "== $$script"; $(UV) run --frozen python $$script || exit 1; \
	done

# The browser crypto bundle, rebuilt reproducibly from frontend-service/js/package-lock.json.
js:
	frontend-service/js/build.sh

# Installs its own tools (PyPI, npm, Debian) into git-ignored deploy/tools/ folders.
validate-deploy: install
	bash deploy/validate.sh

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache .hypothesis
