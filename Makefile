# Upstream: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
BIN       := $(VENV)/bin
SEED      ?= 42
SF        ?= 0.02
DAYS      ?= 56
# The sample ends yesterday (UTC), so its days are in the past and REST triggers for them work.
START     ?= $(shell date -u -d "$(DAYS) days ago" +%F)
# A daily run at RUN_DATE covers the day before it (CronDataIntervalTimetable), so the run
# after the last generated day loads them all with mode=full_refresh.
RUN_DATE   = $(shell date -u -d "$(START) + $(DAYS) days" +%F)

export UPSTREAM_PROJECT_DIR       := $(CURDIR)
export AIRFLOW_HOME               ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM ?= 4
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: help venv airflow-init run test test-fast test-engines lint bench bench-intraday bench-engines score clean services-up services-down services-status

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

venv: ## create/refresh .venv from uv.lock (bootstraps uv)
	@./scripts/bootstrap.sh

airflow-init: venv ## local Airflow home in .airflow/ (SQLite) and the warehouse writer pool
	@./scripts/airflow-init.sh

run: airflow-init ## generate sample data, run the daily DAG through Airflow, show the publication
	@echo "run: sample of $(DAYS) days from $(START) at SF $(SF)"
	@$(BIN)/upstream generate --seed $(SEED) --sf $(SF) --days $(DAYS) --start $(START) \
	  --fresh-sample > $(AIRFLOW_HOME)/generate.json
	@$(BIN)/upstream run-dag $(RUN_DATE) --conf '{"mode": "full_refresh"}' --log $(AIRFLOW_HOME)/last-run.log
	@$(BIN)/upstream ingest-report
	@$(BIN)/upstream publish show --summary

test: venv ## the whole test suite (unit, DAG integrity, integration, system, browser) but `engines`
	@./scripts/ensure-chromium.sh
	$(BIN)/pytest -m "not engines"

test-engines: venv ## the Spark parity on the `make run` sample (about 200 s; not in `make test`)
	$(BIN)/pytest -m engines

test-fast: venv ## the fast tier (under a minute): unit and DAG tests without dbt builds
	$(BIN)/pytest -m "not slow and not integration and not system and not browser"

bench: airflow-init ## the DAG at BENCH_SF (default 1): full refresh of 7 days, the next day, floors, RSS
	$(BIN)/upstream bench --sf $(or $(BENCH_SF),1) --days 7

bench-intraday: airflow-init ## micro-batches through the services at SF 1: latency p50/p95/max, lost, doubled
	$(BIN)/upstream bench-intraday --sf $(or $(BENCH_SF),1) --batches $(or $(BATCHES),20) \
	  --interval $(or $(INTERVAL),15)

bench-engines: airflow-init ## the daily DAG on DuckDB and on Spark (local) at BENCH_SF (1), 7 days: times per stage
	$(BIN)/upstream bench-engines --sf $(or $(BENCH_SF),1) --days $(or $(BENCH_DAYS),7)

score: airflow-init ## the customer model against planted truth: SCORE_SF (0.2) x SCORE_DAYS (56), full refresh
	$(BIN)/upstream score --run --sf $(or $(SCORE_SF),0.2) --days $(or $(SCORE_DAYS),56)

services-up: venv ## PostgreSQL + api-server, scheduler, dag-processor, triggerer on 127.0.0.1
	@./scripts/services.sh up

services-down: ## stop what services-up started (by pid) and PostgreSQL
	@./scripts/services.sh down

services-status: ## which components run, and the API's health
	@./scripts/services.sh status

lint: venv ## ruff on Python, sqlfluff (dbt templater, duckdb dialect) on the dbt SQL
	$(BIN)/ruff check include dags tests scripts
	./scripts/sqlfluff-lint.sh

clean: ## remove generated data, publications and the local Airflow home
	rm -rf data published .airflow
