# The two commands a newcomer needs: `make dev` (the whole stack, Ctrl-C stops it) and `make test`.
# Every target installs first; the install re-runs only when pyproject.toml changes.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install dev services test lint format seed migrate bench chaos

help:
	@echo "make dev       start the whole stack (services, migrations, demo data, API, worker)"
	@echo "make services  the same without the API and the worker"
	@echo "make test      run every test against real services"
	@echo "make lint      ruff check + ruff format --check"
	@echo "make format    ruff format + ruff check --fix"
	@echo "make migrate   apply migrations (DATABASE_URL, or the running make dev)"
	@echo "make seed      load the demo data (DATABASE_URL, or the running make dev)"
	@echo "make bench     run the benchmark (python -m bench)"
	@echo "make chaos     small sales under injected faults (python -m bench.chaos)"

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0] + ": run make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

dev: install
	$(BIN)/python -m devstack

services: install
	$(BIN)/python -m devstack --no-apps

# -rs: the summary names every skipped test (the browser tests without /usr/bin/chromium).
test: install
	@start=$$(date +%s%N); status=0; \
	$(BIN)/pytest -rs tests $(PYTEST_ARGS) || status=$$?; \
	ms=$$(( ($$(date +%s%N) - start) / 1000000 )); \
	printf 'make test: pytest exited with %d after %d.%03d s\n' $$status $$((ms / 1000)) $$((ms % 1000)); \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install
	$(BIN)/python -m devstack migrate

seed: install
	$(BIN)/python -m devstack seed

# Uses the running `make dev` (its .devstack/env) when there is one.
bench: install
	eval "$$($(BIN)/python -m devstack env)"; $(BIN)/python -m bench

# Starts its own stack (never the running make dev): bench/results/chaos.json, non-zero on any
# violation.
chaos: install
	$(BIN)/python -m bench.chaos
