# Quorum — the two commands: `make run` (try it) and `make test` (the whole suite on PostgreSQL + Redis).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/quorum
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test prerequisites install install-dev chromium migrate lint bench bench-import bench-queue bench-qa bench-export clean

prerequisites:
	@missing=0; \
	if ! command -v $(PYTHON) >/dev/null 2>&1; then echo "missing: Python 3.11+ ($(PYTHON) not found; install python3.11 or set PYTHON=...)"; missing=1; \
	elif ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then echo "missing: Python 3.11+ ($(PYTHON) is $$($(PYTHON) -V 2>&1); set PYTHON=python3.11)"; missing=1; \
	elif ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then echo "missing: Python's venv/ensurepip (Debian: apt-get install python3-venv)"; missing=1; fi; \
	if ! command -v node >/dev/null 2>&1; then echo "missing: Node.js (front-end build; Debian: apt-get install nodejs npm)"; missing=1; fi; \
	exit $$missing

$(VENV)/.installed: requirements/base.lock | prerequisites
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/base.lock
	@touch $@

$(VENV)/.installed-dev: requirements/dev.lock $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements/dev.lock
	@touch $@

# Front-end libraries from npm (package-lock.json), copied into var/vendor/ and served as /static/vendor/:
# private deployments have no internet, so nothing comes from a CDN. npm ci runs only when the lock changed.
VENDOR := var/vendor
node_modules/.package-lock.json: package.json package-lock.json | prerequisites
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR)/.copied: node_modules/.package-lock.json
	npm run --silent vendor
	@touch $@

# The browser tests drive Debian's chromium (Playwright's own browser download does not work offline).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || { echo "missing: $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }

install: $(VENV)/.installed $(VENDOR)/.copied
install-dev: $(VENV)/.installed-dev $(VENDOR)/.copied chromium

# Embedded mode by default (SQLite + in-process worker, files under ./var/); PostgreSQL / Redis when
# DATABASE_URL / REDIS_URL are set. Safe to run again; Ctrl-C stops everything it started.
run: install
	@$(PY) -m config.preflight
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py seed_demo
	exec $(PY) manage.py serve --host $(HOST) --port $(PORT)

test: install-dev
	@export DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}"; \
	$(PY) -m config.preflight --require && \
	DJANGO_ENV=test $(PY) -m pytest --create-db $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/quorum_bench

bench: install-dev
	@export DATABASE_URL="$(BENCH_DATABASE_URL)" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" DEBUG=0; \
	$(PY) -m config.preflight --require && $(PY) bench/audit_bench.py

bench-import: install-dev
	@export DATABASE_URL="$(BENCH_DATABASE_URL)" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" DEBUG=0; \
	$(PY) -m config.preflight --require && $(PY) bench/import_parse_bench.py && $(PY) bench/import_bench.py

# The queue over HTTP (production server, Celery worker and beat); BENCH_ARGS=--quick for a smoke run.
# Redis database 15 by default: the bench's Celery worker must not take other checkouts' jobs from db 0.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/15
bench-queue: install-dev
	@export DATABASE_URL="$(BENCH_DATABASE_URL)" REDIS_URL="$${REDIS_URL:-$(BENCH_REDIS_URL)}" DEBUG=0; \
	$(PY) -m config.preflight --require && $(PY) bench/queue_bench.py $(BENCH_ARGS)

# Exports: 100,000 and 1,000,000 tasks to JSONL, CSV and COCO through manage.py export (time, peak RSS).
bench-export: install-dev
	@export DATABASE_URL="$(BENCH_DATABASE_URL)" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" DEBUG=0; \
	$(PY) -m config.preflight --require && $(PY) bench/export_bench.py $(BENCH_ARGS)

# Quality control on simulated crowds (no database): Dawid-Skene speed, spammer detection, dynamic overlap.
bench-qa: install-dev
	$(PY) bench/qa_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
