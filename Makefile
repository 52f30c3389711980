# caspian-corridor: `make run` materialises the default scenario, `make test` runs the whole test suite.
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

.PHONY: run test unit lint bench battery dev clean install system-deps

install: $(STAMP) $(DAGSTER_HOME)/dagster.yaml node_modules/.package-lock.json

# System packages: GDAL's command-line tools and validate_gpkg.py (python3-gdal) for the GeoPackage validation test,
# Chromium and its driver for the web-map test, QGIS 3.22 with PyQGIS (python3-qgis) for the tests that open the
# GeoPackage's stored project and render it, the PostgreSQL server for the team-profile test (which starts its own
# server on loopback: tests/pipelines/test_team_postgres.py). Installed with apt when missing and we are root;
# otherwise the tests that need them skip with the command to run (and fail with CI=true).
SYSTEM_PACKAGES := gdal-bin python3-gdal chromium chromium-driver python3-qgis qgis postgresql
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (sudo apt-get install$$missing)"; fi; \
	fi

# MapLibre GL JS and the PMTiles protocol for the web map, from the npm registry (copied into each publication).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

# `corridor run` (pipelines/cli.py): every asset of the scenario's partition in this process, recorded in
# DAGSTER_HOME (so `make dev` shows the run), a line per asset, the published path at the end; an unknown name lists
# the known ones, a failed check ends with its description and a diagnostics GeoPackage. The name is quoted (a name
# with spaces is one word, and refused with the known names).
run: install
	$(BIN)/python -m pipelines.cli run "$(SCENARIO)"

# Test tiers (markers in pyproject.toml; prerequisites in tests/conftest.py):
#   unit         the default: synthetic data and small reads of the mirror, well under a minute (`make unit`, or a plain
#                `pytest`, whose addopts deselect the two tiers below)
#   integration  the real mirror data at full size and the Dagster graph materialised (`pytest -m integration`)
#   browser      the web map in headless Chromium (`pytest -m browser`)
# `make test` (CI's .ci/run) runs every tier: -m "" clears the default deselection. A missing prerequisite (mirror,
# Chromium, GDAL's validator, npm packages) skips its tests locally and fails them when CI=true. Exit code 5 (no test
# collected) fails the target like any other non-zero code.
PYTEST_WORKERS ?= 2

unit: install
	$(BIN)/python -m pytest -q

test: install system-deps
	$(BIN)/python -m pytest -q -m "" -n $(PYTEST_WORKERS) --dist loadscope

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/routing.py

# The landing-pair battery (tests/battery.yaml): every pair through the whole graph on the mirror, one after the other,
# and a table per pair (length, ratio to the geodesic, A/Cs, crossings, sectors, KP points, land section, run time).
# PAIRS="baku-turkmenbashi lagan" runs the pairs whose names contain those words. Exit status 1 when one does not publish.
battery: install
	nice -n 5 $(BIN)/python scripts/battery.py $(if $(PAIRS),--only $(PAIRS),)

dev: install
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf .corridor_store published .dagster_home/storage .numba_cache
