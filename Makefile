# The two commands: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-deep lint typecheck imports fmt clean compose

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: migrate and start the whole stack on embedded PostgreSQL, Redis and S3.
run: install
	$(BIN)/puppies dev

## make test: the quality gates, then every test against real services.
test: lint
	$(BIN)/python -m pytest

## make test-deep: the router's oracle on 100,000 generated operations (about an hour or more).
test-deep: install
	ORACLE_EXAMPLES=100000 $(BIN)/python -m pytest tests/graph/oracle -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

compose: install
	$(BIN)/puppies compose

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
