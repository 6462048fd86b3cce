# The docker-compose stack (docker-compose.yml): PostgreSQL 15 with the Airflow metadata and the
# warehouse databases, Airflow 3.3 with this project installed. Included by the top-level
# Makefile; also works on its own: `make -f airflow/compose/compose.mk up`.
#
# The recipes call airflow/compose/stack.py (standard library only, no `make setup` needed),
# which checks for Docker, its Compose v2 plugin and its daemon first and says which one is
# missing, creates .env with fresh secrets on the first `make up`, and waits for the API server.

PYTHON ?= python3
# the docker executable; the stack needs its Compose v2 plugin (`docker compose`)
DOCKER ?= docker
# the env file docker compose interpolates docker-compose.yml with (created by `make up`)
STACK_ENV_FILE ?= .env
# how long `make up` waits for the Airflow API server to become healthy
STACK_WAIT_SECONDS ?= 600
SCALE ?= 0.05
SEED ?= 42
DATE ?=
START ?=
END ?=
# values reach the helper through the environment, never pasted into a shell line
export SCALE SEED DATE START END

COMPOSE_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
STACK_PY := $(PYTHON) $(COMPOSE_MK_DIR)/stack.py --docker "$(DOCKER)" --env-file "$(STACK_ENV_FILE)"

.PHONY: up
up: ## docker-compose stack: build, start, print the Airflow UI address and login
	@$(STACK_PY) up --wait-seconds $(STACK_WAIT_SECONDS)

.PHONY: init
init: ## docker-compose stack: raw data (generated unless present; SCALE, SEED) into its warehouse
	@$(STACK_PY) init --scale "$$SCALE" --seed "$$SEED"

.PHONY: down
down: ## docker-compose stack: stop it (keeps the databases; `make down-volumes` drops them)
	@$(STACK_PY) down

.PHONY: down-volumes
down-volumes: ## docker-compose stack: stop it and delete its volumes (metadata, warehouse, login)
	@$(STACK_PY) down --volumes

.PHONY: compose-env
compose-env: ## docker-compose stack: create .env with fresh random secrets, or check the one there is
	@$(STACK_PY) env

.PHONY: compose-logs
compose-logs: ## docker-compose stack: follow the logs (SERVICE=airflow-scheduler for one service)
	@$(STACK_PY) logs $(SERVICE)

.PHONY: compose-run-dag
compose-run-dag: ## docker-compose stack: trigger rr_funnel_daily in it (DATE=YYYY-MM-DD, or START= END= for a range; default the last complete day) and follow the run
	@$(STACK_PY) run-dag --date "$$DATE" --start "$$START" --end "$$END"

.PHONY: compose-check
compose-check: ## docker-compose stack: the latest report's certification on its warehouse, and the API server's health
	@$(STACK_PY) check

.PHONY: compose-psql
compose-psql: ## docker-compose stack: psql on its warehouse
	@$(STACK_PY) psql
