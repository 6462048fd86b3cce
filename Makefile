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
# only the RR_* settings (and CI) reach the commands; the stack's secrets in .env stay in Make
export $(shell sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?\(RR_[A-Z0-9_]*\|CI\)[[:space:]]*=.*/\2/p' .env 2>/dev/null)
export RR_PROJECT_ROOT := $(CURDIR)
export DBT_PROFILES_DIR := $(CURDIR)/$(DBT_DIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export PYTHONDONTWRITEBYTECODE := 1

# Make variables given by the user (DATE, LOOKBACK, START, END, SCALE, SEED, TARGETS, Q) reach the
# commands only through the environment (a recipe reads "$$DATE", never the make text of it): no
# value is ever pasted into a shell line, and Python validates each one (seeds_loader/rules.py).
SCALE ?= 0.05
SEED ?= 42
DATE ?=
LOOKBACK ?=
START ?=
END ?=
Q ?=
REASON ?=
export SCALE SEED DATE LOOKBACK START END Q REASON

.PHONY: help
help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	@echo "installing retailrocket-kpi with extras airflow,dev,analyst,spark into $(VENV) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[airflow,dev,analyst,spark]'
	@touch $@

.PHONY: setup
setup: $(VENV)/.installed deps manifest ## create .venv, install the project, the dbt packages and the dbt manifest (idempotent)

# The browser the HTML report's test renders the page in (tests/browser_support.py): Debian's
# Chromium, installed with apt-get when missing (root only; idempotent). CI's .ci/run does the same.
.PHONY: setup-browser
setup-browser: ## install Chromium for the HTML report's browser test (apt-get; nothing to do when present)
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null || echo present) at /usr/bin/chromium"; \
	elif [ "$$(id -u)" != 0 ]; then echo "chromium is missing: as root, run apt-get install -y chromium (the browser test skips without it)"; exit 1; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && echo "chromium installed: /usr/bin/chromium"; fi

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

# SQL: sqlfluff with the dbt templater (dbt_retailrocket/.sqlfluff, .sqlfluffignore) over the dbt
# folders that exist; it compiles the project on DuckDB against an empty throw-away file (never the
# warehouse: no lock held by a load or a build, no data needed, every incremental model linted in
# its full-build form). DuckDB does not create the file's folder, and a missing one makes dbt retry
# the connection for minutes, hence the mkdir.
SQL_DIRS := $(notdir $(wildcard $(addprefix $(DBT_DIR)/,models macros tests analyses snapshots)))
SQLFLUFF_WH := $(CURDIR)/$(DBT_DIR)/target/sqlfluff/lint.duckdb
SQLFLUFF := mkdir -p $(dir $(SQLFLUFF_WH)) && cd $(DBT_DIR) && RR_TARGET=duckdb RR_DUCKDB_PATH=$(SQLFLUFF_WH) $(BIN)/sqlfluff

.PHONY: lint
lint: setup ## check the Python code (ruff) and the dbt SQL (sqlfluff) without changing anything
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(SQLFLUFF) lint $(SQL_DIRS)

.PHONY: fmt
fmt: setup ## format the Python code and the dbt SQL in place (ruff, sqlfluff fix); make lint checks the rest
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(SQLFLUFF) fix $(SQL_DIRS)

# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
.PHONY: generate
generate: setup ## generate a RetailRocket-format data set into RR_DATA_DIR (SCALE=0.05 SEED=42)
	$(PY) -m seeds_loader generate --scale "$$SCALE" --seed "$$SEED"

.PHONY: load
load: setup ## load the raw CSV files of RR_DATA_DIR into the warehouse (RR_TARGET)
	$(PY) -m seeds_loader load

.PHONY: pg-roles
pg-roles: setup ## PostgreSQL: create the read-only role RR_PG_READER_ROLE (default rr_reader) for analysts: reads kpi and qa, writes nothing
	$(PY) -m seeds_loader pg-roles

# ---------------------------------------------------------------------------------------------
# Spark (RR_TARGET=spark; docs/spark.md)
# ---------------------------------------------------------------------------------------------
.PHONY: spark-up spark-down spark-status spark-migrate-history
spark-up: setup ## start a local Spark Thrift Server (RR_SPARK_HOST:RR_SPARK_PORT, warehouse and metastore under RR_SPARK_DIR)
	$(PY) -m seeds_loader spark up

spark-down: setup ## stop the local Spark Thrift Server that make spark-up started
	$(PY) -m seeds_loader spark down

spark-status: setup ## is the local Spark Thrift Server running?
	$(PY) -m seeds_loader spark status

spark-migrate-history: setup ## once, after upgrading: partition a Spark run history (qa) written by an earlier version; nothing else may run
	$(PY) -m exports.pipeline spark-migrate-history

# ---------------------------------------------------------------------------------------------
# dbt
# ---------------------------------------------------------------------------------------------
.PHONY: build
build: setup ## dbt build on RR_TARGET: DATE=YYYY-MM-DD [LOOKBACK=n] for one date, START= END= for a range (widened to certify them), default every date
	$(PY) -m exports.pipeline build

.PHONY: lock-definitions
lock-definitions: setup ## pin the definitions the numbers are made under (REASON="why", one line): rewrites dbt_retailrocket/models/qa/_qa__definitions_lock.yml
	$(PY) -m exports.definitions lock --reason "$$REASON"

.PHONY: docs
docs: setup ## generate the metric catalogue (dbt docs) as one static page and say where it is
	cd $(DBT_DIR) && $(DBT) docs generate --static --quiet
	@echo "metric catalogue: $(CURDIR)/$(DBT_DIR)/target/static_index.html (open it in a browser)"
	@echo "or serve it: cd $(DBT_DIR) && $(DBT) docs serve --port 8081"

.PHONY: metrics
metrics: setup ## query the semantic layer by name on RR_TARGET: Q="--metrics sessions,cvr_session_to_purchase --group-by metric_time__week" (mf query); without Q, list the metrics
	@$(PY) -m exports.metrics

# the project site: docs/*.md, the metrics page generated from the manifest (docs/hooks.py), the
# architecture diagram and the static dbt docs page (--empty-catalog: no warehouse needed; a
# throw-away DuckDB file under target/site, never the warehouse)
SITE_TARGET := $(CURDIR)/$(DBT_DIR)/target/site

.PHONY: site
site: setup ## build the project site into site/ (MkDocs, --strict): pages, metrics from the dbt docs blocks, dbt docs
	@mkdir -p $(SITE_TARGET)
	@cd $(DBT_DIR) && RR_TARGET=duckdb RR_DUCKDB_PATH=$(SITE_TARGET)/empty.duckdb $(DBT) docs generate --static \
		--empty-catalog --quiet --target-path $(SITE_TARGET) --log-path $(SITE_TARGET)/logs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "site: $(CURDIR)/site/index.html (open it in a browser)"

.PHONY: diagram
diagram: setup ## redraw docs/assets/pipeline_architecture.svg from the manifest, the loader and the DAG (needs Graphviz dot)
	$(PY) docs/gen_diagram.py

# ---------------------------------------------------------------------------------------------
# reports and Airflow
# ---------------------------------------------------------------------------------------------
REPORTS_DIR := $(or $(RR_REPORTS_DIR),$(CURDIR)/logs/reports)
export AIRFLOW_HOME ?= $(CURDIR)/logs/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/airflow/dags
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__COSMOS__CACHE_DIR ?= $(AIRFLOW_HOME)/cosmos_cache
STACK ?= local

.PHONY: report
report: setup ## write the reports of DATE=YYYY-MM-DD (or each date START= .. END=) into logs/reports, the HTML page too (refused unless certified); prints the page's path
	RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline report

.PHONY: open
open: setup ## open the HTML report of DATE=YYYY-MM-DD (written by make report) in a browser, else print its path
	@RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline open

.PHONY: run-dag
run-dag: $(if $(filter compose,$(STACK)),,setup) ## one DAG run: DATE=YYYY-MM-DD (run id manual_backfill_D) or START= END= (one ranged run), default the last complete day; goes to the stack (STACK=compose), the native Airflow (make airflow), else `airflow dags test`
ifeq ($(STACK),compose)
	@$(MAKE) compose-run-dag
else
	RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline run-dag
endif

.PHONY: run-linux
run-linux: setup ## the whole pipeline on this machine, no Airflow, no Docker: load what changed, dbt build, reports (DATE, or START= END=; default the last complete day)
	RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline run-linux

.PHONY: backfill
backfill: $(if $(filter compose,$(STACK)),,setup) ## one ranged DAG run for START to END (YYYY-MM-DD): built and checked once, the reports of every certified date
ifeq ($(STACK),compose)
	@test -n "$$START" -a -n "$$END" || { echo "error: START and END are required: make backfill START=YYYY-MM-DD END=YYYY-MM-DD"; exit 2; }
	@$(MAKE) compose-run-dag DATE=
else
	RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline backfill
endif

.PHONY: check
check: $(if $(filter compose,$(STACK)),,setup) ## is the latest run trustworthy? certification, the latest report's gates, the Airflow's health
ifeq ($(STACK),compose)
	@$(MAKE) compose-check
else
	@RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline check
endif

.PHONY: psql
psql: $(if $(filter compose,$(STACK)),,setup) ## a SQL shell on the warehouse: psql (PostgreSQL, the stack's), the DuckDB CLI or a Python console, beeline (Spark)
ifeq ($(STACK),compose)
	@$(MAKE) compose-psql
else
	@$(PY) -m exports.pipeline sql
endif

.PHONY: logs
logs: ## follow the logs: the stack's (STACK=compose; SERVICE=... for one), else the native Airflow's
ifeq ($(STACK),compose)
	@$(MAKE) compose-logs
else
	@ls $(AIRFLOW_HOME)/native/*.log >/dev/null 2>&1 || { echo "no Airflow logs yet: start one with make airflow (or make up)"; exit 1; }
	tail -n 50 -F $(AIRFLOW_HOME)/native/*.log
endif

# ---------------------------------------------------------------------------------------------
# a real Airflow without Docker (airflow/ops/native.py)
# ---------------------------------------------------------------------------------------------
NATIVE_PY := $(PY) airflow/ops/native.py

.PHONY: airflow
airflow: setup ## start Airflow natively: api-server (127.0.0.1:RR_AIRFLOW_PORT), scheduler, dag-processor, triggerer; metadata in PostgreSQL
	@$(NATIVE_PY) up

.PHONY: airflow-down
airflow-down: setup ## stop the native Airflow (only the processes make airflow started)
	@$(NATIVE_PY) down

.PHONY: airflow-status
airflow-status: setup ## the native Airflow's processes and health
	@$(NATIVE_PY) status

.PHONY: trigger
trigger: setup ## trigger a run in the native Airflow (REST API) and follow it: DATE=YYYY-MM-DD, or START= END= for a range
	@$(NATIVE_PY) trigger --date "$$DATE" --start "$$START" --end "$$END"

# ---------------------------------------------------------------------------------------------
# the two commands
# ---------------------------------------------------------------------------------------------
.PHONY: demo
demo: setup ## the whole pipeline on DuckDB: sample data (unless real files are present), load, dbt build, reports (prints the HTML page's path)
	$(PY) -m seeds_loader generate --scale "$$SCALE" --seed "$$SEED" --unless-present
	RR_TARGET=duckdb $(PY) -m seeds_loader load --only-changed
	RR_TARGET=duckdb RR_REPORTS_DIR="$(REPORTS_DIR)" $(PY) -m exports.pipeline demo

# the suite runs on TEST_WORKERS processes (pytest-xdist), each test file whole on one of them
# (module fixtures build once), the longest files first (tests/conftest.py); 0: one process
TEST_WORKERS ?= 2
export TEST_WORKERS

.PHONY: test
test: setup ## the test suite on TEST_WORKERS=2 processes (needs PostgreSQL from RR_PG_*; CI=true makes its absence a failure)
	$(PY) -m pytest -n "$$TEST_WORKERS" --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

.PHONY: test-durations
test-durations: ## make test, then record each test file's seconds in tests/durations.json (the order make test starts files in)
	RR_TEST_DURATIONS_OUT="$(CURDIR)/tests/durations.json" $(MAKE) test

# ---------------------------------------------------------------------------------------------
# benchmark (not a test: nothing asserted, see README "Performance")
# ---------------------------------------------------------------------------------------------
BENCH_SCALE := $(if $(filter command line environment,$(origin SCALE)),$(value SCALE),1.0)
TARGETS ?= duckdb postgres
export BENCH_SCALE TARGETS

.PHONY: bench
bench: setup ## time load, full and daily dbt builds, export, DAG parse and run at SCALE=1.0 on TARGETS="duckdb postgres" (BENCH_ARGS="--steps-only --one-daily --repeat 1": see tests/bench/run_bench.py)
	$(PY) -m tests.bench.run_bench --scale "$$BENCH_SCALE" --targets $$TARGETS $(BENCH_ARGS)

# the docker-compose stack: make up / init / down / down-volumes, compose-run-dag
include airflow/compose/compose.mk

.PHONY: clean
clean: ## remove build output (keeps .venv and data/)
	rm -rf $(DBT_DIR)/target $(DBT_DIR)/logs .pytest_cache .ruff_cache
