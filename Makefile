# retailrocket-kpi: every command a user types. `make` (or `make help`) lists them.
# On a fresh clone `make demo` and `make test` are the only two commands needed:
# both run `make setup` first, which is idempotent and fast when nothing changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
DBT := $(BIN)/dbt
DBT_DIR := dbt_retailrocket

# Warehouse settings: the environment, then .env, then the defaults in seeds_loader/settings.py.
-include .env
export $(shell sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?\(RR_[A-Z0-9_]*\|AIRFLOW_[A-Z0-9_]*\|CI\)[[:space:]]*=.*/\2/p' .env 2>/dev/null)
export RR_PROJECT_ROOT := $(CURDIR)
export DBT_PROFILES_DIR := $(CURDIR)/$(DBT_DIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export PYTHONDONTWRITEBYTECODE := 1

SCALE ?= 0.05
SEED ?= 42

.PHONY: help
help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	@echo "installing retailrocket-kpi with extras airflow,dev into $(VENV) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[airflow,dev]'
	@touch $@

.PHONY: setup
setup: $(VENV)/.installed deps manifest ## create .venv, install the project, the dbt packages and the dbt manifest (idempotent)

.PHONY: deps
deps: $(VENV)/.installed ## install the dbt packages: `dbt deps` when the hub answers, else the offline fallback
	@$(PY) $(DBT_DIR)/scripts/install_packages.py

DBT_SOURCES := $(shell find $(DBT_DIR)/models $(DBT_DIR)/macros $(DBT_DIR)/tests $(DBT_DIR)/analyses -type f 2>/dev/null) \
	$(DBT_DIR)/dbt_project.yml $(DBT_DIR)/packages.yml $(DBT_DIR)/profiles.yml

$(DBT_DIR)/target/manifest.json: $(DBT_SOURCES) $(DBT_DIR)/dbt_packages/INSTALLED.txt
	@echo "dbt parse: writing $@ (the manifest Cosmos renders the DAG from)"
	@cd $(DBT_DIR) && $(DBT) parse --quiet
	@touch $@

.PHONY: manifest
manifest: deps $(DBT_DIR)/target/manifest.json ## build the dbt manifest (dbt parse) for Cosmos and dbt docs

.PHONY: lint
lint: setup ## ruff over the Python code
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
.PHONY: generate
generate: setup ## generate a RetailRocket-format data set into RR_DATA_DIR (SCALE=0.05 SEED=42)
	$(PY) -m seeds_loader generate --scale $(SCALE) --seed $(SEED)

.PHONY: load
load: setup ## load the raw CSV files of RR_DATA_DIR into the warehouse (RR_TARGET)
	$(PY) -m seeds_loader load

# ---------------------------------------------------------------------------------------------
# the two commands
# ---------------------------------------------------------------------------------------------
.PHONY: demo
demo: setup ## the whole pipeline on DuckDB: sample data (unless real files are present), load, build, report
	$(PY) -m seeds_loader generate --scale $(SCALE) --seed $(SEED) --unless-present
	$(PY) -m seeds_loader load

.PHONY: test
test: setup ## the test suite (needs PostgreSQL from RR_PG_*; CI=true makes its absence a failure)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: clean
clean: ## remove build output (keeps .venv and data/)
	rm -rf $(DBT_DIR)/target $(DBT_DIR)/logs .pytest_cache .ruff_cache
