# sitaware: `make run` to try it, `make test` to check it. Every target sets itself up and is quick when done.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
# The install is redone only when the lock file or pyproject.toml changes: the stamp is named after their hash.
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
PIP := $(BIN)/python -m pip --disable-pip-version-check
# Peers the tests talk to that must not share the application's environment (their dependencies would change the
# app's): each in its own virtual environment under $(TOOLS).
TOOLS := .venv-tools
MASTODON_MOCK := $(TOOLS)/mastodon-mock/bin/mastodon_mock

HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_RECORDS ?= 5000
DATA_DIR ?= $(CURDIR)/var
# Tests keep their database and files apart from the demo instance's.
TEST_DATA_DIR ?= $(CURDIR)/var/test
PG_URL ?= postgres://postgres@127.0.0.1:5432/sitaware
PYTEST_ARGS ?= -q
# make bench BENCH_ARGS=--quick for a smoke run; see bench/run_all.py
BENCH_ARGS ?=

export SITAWARE_DATA_DIR ?= $(DATA_DIR)
export SITAWARE_MASTODON_MOCK ?= $(CURDIR)/$(MASTODON_MOCK)

.PHONY: help install lock run migrate demo serve test test-tools test-sqlite test-pg lint bench clean distclean

help:
	@echo "make run        set up, migrate, load the demo and serve http://$(HOST):$(PORT)/"
	@echo "make test       set up and run the tests on SQLite, then on PostgreSQL ($(PG_URL))"
	@echo "make lint       ruff"
	@echo "make bench      the benchmarks in bench/ (results in bench/results, summary in docs/performance.md)"
	@echo "make lock       recompute $(LOCK) from pyproject.toml (after changing dependencies)"
	@echo "make clean      remove the local database and caches (var/, .pytest_cache, ...); distclean also .venv"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): | $(BIN)/python
	@echo "Installing sitaware and its locked dependencies into $(VENV) ..."
	$(PIP) install -q -r $(LOCK)
	$(PIP) install -q --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

$(MASTODON_MOCK):
	@echo "Installing mastodon-mock (a real Mastodon API server for the intake tests) into $(TOOLS)/mastodon-mock ..."
	$(PYTHON) -m venv $(TOOLS)/mastodon-mock
	$(TOOLS)/mastodon-mock/bin/python -m pip --disable-pip-version-check install -q mastodon-mock==0.6.1

test-tools: $(MASTODON_MOCK)

lock: | $(BIN)/python
	@test -x $(BIN)/uv || $(PIP) install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o $(LOCK) --python-version 3.11

migrate: install
	$(BIN)/sitaware migrate --no-input

demo: migrate
	$(BIN)/sitaware demo --records $(DEMO_RECORDS)

serve: install
	$(BIN)/sitaware serve --host $(HOST) --port $(PORT)

run: demo
	$(BIN)/sitaware serve --host $(HOST) --port $(PORT)

# pytest exits 5 when it ran no test: that is a failure here, never a pass.
define run_pytest
	$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest ran no test: failing"; exit 1; fi; exit $$status
endef

test: install test-tools
	@$(MAKE) --no-print-directory test-sqlite
	@$(MAKE) --no-print-directory test-pg

test-sqlite: install test-tools
	@echo "== tests on SQLite ($(TEST_DATA_DIR))"
	@unset DATABASE_URL SITAWARE_DATABASE_URL; export SITAWARE_DATA_DIR=$(TEST_DATA_DIR); $(run_pytest)

test-pg: install test-tools
	@if $(BIN)/python -c "import psycopg, sys; psycopg.connect(sys.argv[1], dbname='postgres', connect_timeout=3).close()" \
			"$(PG_URL)" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(PG_URL); pytest-django makes and drops its test_ database)"; \
		export DATABASE_URL=$(PG_URL) SITAWARE_DATA_DIR=$(TEST_DATA_DIR); $(run_pytest); \
	elif [ -n "$${CI:-}" ] && [ "$${CI:-}" != "false" ] && [ "$${CI:-}" != "0" ]; then \
		echo "PostgreSQL is not reachable at $(PG_URL) and CI is set: the PostgreSQL run cannot be skipped."; exit 1; \
	else \
		echo "PostgreSQL is not reachable at $(PG_URL): SKIPPING the PostgreSQL run."; \
		echo "  Start PostgreSQL (or set PG_URL=...) to run it; with CI set this is an error."; \
	fi

lint: install
	$(BIN)/ruff check --output-format concise .

bench: install
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache build dist src/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(TOOLS)
