# gatewaylens command surface. Every target builds the environment from uv.lock first.
PY ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Bytecode written once, at install: where PYTHONDONTWRITEBYTECODE is set (CI images, containers) every process
# would otherwise compile Dagster and the rest from source on each start (about 2 s of each CLI command).
export UV_COMPILE_BYTECODE := 1
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: env browser run test test-fast bench dev lint format sample schema clean

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PY)
	$(BIN)/python -m compileall -q -j 0 pipelines schemas dashboards devkit
	@touch $@

env: $(VENV)/.synced  ## create .venv from the lock file

browser:  ## Debian's chromium for the report's browser tests and PNG export (apt, as root; never a downloaded browser)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
		|| echo "chromium could not be installed: the browser tests will skip and --png will say so"

run: env  ## the main job on data/sample: ingest into ./warehouse and everything downstream
	$(BIN)/gatewaylens run

test: env browser  ## the whole test suite (installs chromium for the browser tests when missing)
	$(BIN)/python -m pytest -n 2

test-fast: env  ## the edit loop, under a minute: every test not marked slow (`make test` runs them all; README)
	$(BIN)/python -m pytest -m "not slow" -n 2

ROWS ?= 2000000
RUNS ?= 3
bench: env  ## benchmarks (ROWS=2000000 RUNS=3 [WORKDIR=dir] [FORMAT_ROWS=n]): JSON in benchmarks/results/, table in BENCHMARKS.md
	$(BIN)/python -m devkit.bench --rows $(ROWS) --runs $(RUNS) $(if $(WORKDIR),--workdir $(WORKDIR)) \
		$(if $(FORMAT_ROWS),--format-rows $(FORMAT_ROWS))

dev: env  ## the Dagster UI on http://127.0.0.1:3000 (same instance as `make run`)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg dev

lint: env  ## ruff (Python) and sqlfluff (the SQL models' house style, configured in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql

format: env  ## fix what ruff and sqlfluff can fix by themselves (read the diff: `make lint` must pass after)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix sql

schema: env  ## regenerate the files derived from the pydantic model (JSON Schema, field reference, stored columns)
	$(BIN)/gatewaylens schema

sample: env  ## regenerate the committed sample data (deterministic)
	$(BIN)/python data/sample/generate.py

clean:
	rm -rf warehouse test-artifacts .dagster/history .dagster/storage .dagster/schedules .dagster/logs
