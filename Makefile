# caspian-corridor: `make run` materialises the default scenario, `make test` runs the test suite.
# Both create the virtual environment on first use and install the project into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= siyazan-aktau

# The data mirror beside the project is used when it exists and CORRIDOR_MIRROR is not set.
MIRROR_DEFAULT := $(abspath ../shared/geodata-mirror)
export CORRIDOR_MIRROR ?= $(if $(wildcard $(MIRROR_DEFAULT)/SOURCES.md),$(MIRROR_DEFAULT),)
export DAGSTER_HOME ?= $(abspath .dagster_home)
export CORRIDOR_OUTPUT ?= $(abspath published)
export CORRIDOR_STORE ?= $(abspath .corridor_store)
export NUMBA_CACHE_DIR ?= $(abspath .numba_cache)

STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench dev clean install system-deps

install: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

run: install
	$(BIN)/dagster asset materialize -m pipelines.definitions --select '*' --partition $(SCENARIO)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/routing.py

dev: install
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf .corridor_store published .dagster_home/storage .numba_cache
