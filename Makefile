# Pulse: `make demo` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast venv lock lint lint-changed bench docs airflow-ui compose-env warehouse-up warehouse-down clean

## demo: create the venv, start the warehouse, generate the demo data, run the nightly DAG
demo: venv
	$(BIN)/pulse demo

# The tests run on one worker per core (at most 4), each with a cluster of its own
# (tests/conftest.py), heaviest files first. WAREHOUSE_URL names one database: one process.
WORKERS ?= $(if $(WAREHOUSE_URL),0,auto)
PARALLEL := -n $(WORKERS) --maxprocesses 4 --dist loadfile --no-loadscope-reorder

## test: lint, then the whole test suite (what CI runs)
test: lint
	$(BIN)/pytest $(PARALLEL)

## test-fast: every test that runs no Airflow DAG and no full dbt build (README "Tests"),
## after ruff and sqlfluff on the SQL changed since main (tools/lint-changed)
test-fast: venv
	tools/lint-changed
	$(BIN)/pytest $(PARALLEL) -m "not airflow and not dbt_build"

## venv: the virtual environment: the locked production set and the test and lint tools
## (requirements-dev.txt: requirements.txt's pins plus the tools, hashed)
venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	@# uv installs the locked set in seconds; pip is the fallback where uv cannot be had.
	@# Bytecode is compiled at install (pip does it by default, uv when told): where
	@# PYTHONDONTWRITEBYTECODE is set, as on these machines, every process would otherwise
	@# compile what it imports from source, each time (Airflow's import: 3.6 s, not 1.4 s).
	@if $(BIN)/python -m pip install --quiet --disable-pip-version-check uv; then \
	    $(BIN)/python -m uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements-dev.txt && \
	    $(BIN)/python -m uv pip install --quiet --python $(BIN)/python --no-deps -e . ; \
	else \
	    $(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt && \
	    $(BIN)/python -m pip install --quiet --no-deps -e . ; \
	fi
	@touch $(STAMP)
	@echo "virtual environment ready: $(VENV)"

## lock: re-resolve requirements.in and requirements-dev.in into their locked, hashed sets
lock: venv
	sed -i '/^# Locked by/d' requirements.txt requirements-dev.txt
	$(BIN)/python -m uv pip compile --quiet --no-header --generate-hashes --python-version 3.11 requirements.in -o requirements.txt
	$(BIN)/python -m uv pip compile --quiet --no-header --generate-hashes --python-version 3.11 requirements-dev.in -o requirements-dev.txt
	sed -i '1i # Locked by `make lock` (uv pip compile --generate-hashes requirements.in). Do not edit by hand.' requirements.txt
	sed -i '1i # Locked by `make lock` (uv pip compile --generate-hashes requirements-dev.in). Do not edit by hand.' requirements-dev.txt

## lint-changed: ruff on the Python, sqlfluff on the SQL changed since main (test-fast's)
lint-changed: venv
	tools/lint-changed

## lint: ruff on the Python, sqlfluff on the SQL (.sqlfluff)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint --processes 2 dbt_project/models dbt_project/tests dbt_project/macros sql

## bench: loader, dbt and gate timings as ratios against baselines run in the same process
bench: venv
	$(BIN)/python -m bench

## docs: build and serve the dbt docs on http://127.0.0.1:8081
docs: venv
	$(BIN)/pulse dbt docs generate
	$(BIN)/pulse dbt docs serve --host 127.0.0.1 --port 8081 --no-browser

## airflow-ui: Airflow (api-server, scheduler, triggerer, dag-processor) on http://127.0.0.1:8080 only;
## the admin password is in .pulse/airflow/simple_auth_manager_passwords.json (0600)
airflow-ui: venv
	$(BIN)/pulse warehouse up
	$(BIN)/pulse airflow db migrate
	$(BIN)/python -m pulse.airflow_ui

## compose-env: the .env docker-compose needs, with random passwords, keys and secrets (0600)
compose-env: venv
	$(BIN)/python -m pulse.compose_env

warehouse-up: venv
	$(BIN)/pulse warehouse up

warehouse-down: venv
	$(BIN)/pulse warehouse down

## clean: stop the local warehouse and delete its data, Airflow's home and generated data
clean:
	-test -x $(BIN)/pulse && $(BIN)/pulse warehouse down
	rm -rf .pulse data dbt_project/target dbt_project/logs
