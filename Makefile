# secure-vote: the two commands of the quick start are `make up` and `make test`.
# Everything runs inside .venv, created by uv from uv.lock (uv is installed with pip if missing).

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SERVICES := auth election voting results frontend
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install up test test-deps lint format requirements check-requirements bench validate-deploy js clean \
	cluster-up cluster-down load-test docs-office restore-drill

help:
	@echo "make up          run all five services in one process on http://$(HOST):$(PORT)/"
	@echo "make test        run every test (SQLite and PostgreSQL)"
	@echo "make lint        ruff, mypy --strict on shared/, requirements up to date"
	@echo "make bench       run the benchmarks (they print figures)"
	@echo "make requirements  export each service's pinned requirements.txt from uv.lock"
	@echo "make validate-deploy  offline validators: images, compose, Kubernetes, CI, monitoring"
	@echo "make cluster-up  two replicas of each service + the jobs on PostgreSQL behind nginx (:18080)"
	@echo "make cluster-down  stop the local cluster"
	@echo "make load-test   locust against the local cluster (VOTERS=200 USERS=20 DURATION=60s)"
	@echo "make js          rebuild the browser crypto bundle (frontend-service/js)"
	@echo "make docs-office  Word reports (docs/word/) and runbook PDFs (docs/pdf/) from the Markdown"
	@echo "make restore-drill  dump DATABASE_URL (or DUMP=FILE), restore into a scratch database, verify it"

.venv/.installed: uv.lock pyproject.toml */pyproject.toml shared/hatch_build.py shared/native/*.c
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.installed

up: install
	$(UV) run --frozen securevote up --host $(HOST) --port $(PORT)

# What the tests need beyond the virtual environment: Debian's Chromium for the browser tests
# and Debian's nginx for the local cluster test, Debian's pandoc for the Word and PDF documents
# (installed with apt when missing; never a downloaded browser), the browser crypto's and
# axe-core's npm packages from their lock files.
test-deps: install
	@missing=; \
	command -v chromium >/dev/null 2>&1 || [ -n "$$SECUREVOTE_CHROMIUM" ] || missing="chromium fonts-dejavu-core"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v pandoc >/dev/null 2>&1 || missing="$$missing pandoc"; \
	[ -z "$$missing" ] || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $$missing >/dev/null; }
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

# The local cluster (docs/runbooks/local-cluster.md): two replicas of each service and the
# background jobs on PostgreSQL behind nginx, http://127.0.0.1:18080/; settings such as
# CLUSTER_PORT or CLUSTER_DATABASE pass through (make cluster-up CLUSTER_PORT=19080).
cluster-up: install
	bash deploy/local-cluster/cluster.sh up

cluster-down:
	bash deploy/local-cluster/cluster.sh down

# locust, headless, against the running local cluster: a fresh election of VOTERS voters,
# USERS simulated voters for at most DURATION; prints locust's report.
VOTERS ?= 200
USERS ?= 20
DURATION ?= 60s
load-test: install
	VOTERS=$(VOTERS) USERS=$(USERS) DURATION=$(DURATION) UV="$(UV)" bash benchmarks/load/run.sh

# Word and PDF versions of the documentation (seed §11), git-ignored build products; needs
# Debian's pandoc and chromium (make test-deps installs them).
docs-office:
	bash scripts/docs-office.sh

# The restore drill (docs/runbooks/restore.md): the source is SECUREVOTE_DATABASE_URL or
# DATABASE_URL (and SECUREVOTE_DATABASE_SCHEMA), or a dump: make restore-drill DUMP=FILE.
# BOARD_PUBLIC_KEY (hex, GET /api/ballots/board/key) is needed when an election is published.
restore-drill: install
	UV="$(UV)" bash scripts/restore-drill.sh $(if $(DUMP),--dump "$(DUMP)")

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache .hypothesis
