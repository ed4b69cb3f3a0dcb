# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck imports docs unit integration bench clean lock lock-upgrade container-test

# uv installs exactly the versions in uv.lock; it is itself pinned here and comes from PyPI
# into the venv, so a fresh machine needs nothing but python3.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
CONTAINER_ENGINE ?= podman
CONTAINER_RUN_OPTIONS ?=
CONTAINER_BASE_IMAGE ?= python:3.11-slim-bookworm

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (3.11+) on PATH"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Mimic needs Python 3.11 or newer"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

# --locked: a pyproject.toml changed without `make lock` fails here instead of installing
# something else than what the lock says; --inexact keeps pip and uv in the venv.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --extra dev --inexact
	@touch $(STAMP)

# After changing dependencies in pyproject.toml: re-resolve uv.lock, keeping other pins.
lock: | $(UV)
	$(UV) lock

# Every dependency to the newest version pyproject.toml allows.
lock-upgrade: | $(UV)
	$(UV) lock --upgrade

run: $(STAMP)
	$(BIN)/mimic run

# The suite in TEST_WORKERS processes (pytest-xdist; 0: in this one). Most of its time is spent
# waiting on Postgres, Redis, uvicorn and child processes, so two share two cores well; each
# worker migrates its own template database. loadscope keeps each module on one worker, so the
# fault suite starts its one platform (a module fixture) once. (loadgroup's xdist_group marks
# do nothing with pytest 9.2 and xdist 3.8: the group never reaches the node id.)
TEST_WORKERS ?= 2

test: $(STAMP) lint typecheck imports docs
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP)
	$(BIN)/ruff check src tests bench alembic docs tools
	$(BIN)/ruff format --check src tests bench alembic docs tools

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# The documentation site (docs/, mkdocs.yml) into site/; any warning fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

# Builds the image and runs each process from it against the local Postgres and Redis.
# CONTAINER_ENGINE / CONTAINER_RUN_OPTIONS / CONTAINER_BASE_IMAGE as in the README.
container-test: $(STAMP)
	MIMIC_CONTAINER_ENGINE="$(CONTAINER_ENGINE)" MIMIC_CONTAINER_RUN_OPTIONS="$(CONTAINER_RUN_OPTIONS)" \
		MIMIC_CONTAINER_BASE_IMAGE="$(CONTAINER_BASE_IMAGE)" \
		$(BIN)/python -m pytest -q -m container tests/container

bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python bench/fanout.py --followers 10000
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/live_push.py --clients 1000
	$(BIN)/python bench/page_time.py --orders 10000
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site
