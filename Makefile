# The two commands: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lock run test test-deep lint typecheck imports fmt clean compose vendor screenshots

LOCK      := requirements.lock
PROD_LOCK := requirements-prod.lock
UV        := $(BIN)/uv
# The lock covers Python 3.11+ on every platform; `make lock` keeps existing pins,
# `make lock UPGRADE=1` moves every package to its newest allowed release.
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --quiet $(if $(UPGRADE),--upgrade)

# .venv holds exactly what requirements.lock pins (hash-checked), plus puppies itself.
$(STAMP): pyproject.toml $(LOCK)
	@echo "==> make install: .venv with the exact, hash-checked versions of $(LOCK)"
	@test -x $(BIN)/python || { \
		echo "--> creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "--> installing uv, the installer (its version and hashes come from $(LOCK))"
	@awk '/^uv==/ {p = 1; print; next} p && /^[^ ]/ {p = 0} p' $(LOCK) > $(VENV)/uv-requirement.txt
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r $(VENV)/uv-requirement.txt
	@echo "--> installing the locked packages (uv pip sync: adds, upgrades and removes to match)"
	@$(UV) pip sync --python $(BIN)/python --require-hashes $(LOCK)
	@echo "--> installing puppies itself (editable)"
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)
	@echo "==> .venv is ready: $(BIN)/puppies --help"

install: $(STAMP)

## make lock: re-pin requirements.lock (and requirements-prod.lock, the image's runtime
## subset at the same versions) after a change to pyproject.toml; UPGRADE=1 upgrades all.
lock: install
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_ARGS) -o $(LOCK)
	$(UV) pip compile pyproject.toml -c $(LOCK) $(LOCK_ARGS) -o $(PROD_LOCK)
	@echo "re-pinned $(LOCK) and $(PROD_LOCK); 'make install' applies them"

## make run: migrate and start the whole stack on embedded PostgreSQL, Redis and S3.
run: install
	$(BIN)/puppies dev

## make test: the quality gates, then every test against real services. The browser
## tests (tests/browser) need Debian's chromium; without it they are skipped, and said so.
## TEST_WORKERS pytest-xdist workers, each with its own services (tests/conftest.py says how
## the tests are shared out); most of a test's time is waiting for processes, so two
## workers finish sooner even on one core. TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= 2
test: lint
	@test -x "$${CHROMIUM:-$$(command -v chromium || echo /usr/bin/chromium)}" || \
		echo "==> NOTE: chromium is not installed: the browser tests (tests/browser) will be SKIPPED (apt-get install chromium)"
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

## make screenshots: retake docs/images/ide.png, app.png, app-*.png (the browser tests).
screenshots: install
	SCREENSHOTS_DIR=docs/images PUPPIES_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/browser -p no:cacheprovider

## make vendor: refresh the browser assets vendored from npm (GraphiQL, React, graphql-ws;
## needs npm). The pinned versions are in tools/vendor_browser_assets.py.
vendor: install
	$(BIN)/python tools/vendor_browser_assets.py

## make test-deep: the long runs kept out of make test: the router's oracle on 100,000
## generated operations (tests/graph/oracle/deep.py, two processes; failures, shrunk, and the
## report in /tmp/oracle-deep), the metamorphic checks on 3,000 operations, SIGTERM to
## `puppies dev` at 20 moments of start-up and running (make test does 3), SIGKILL to a
## `python -m bench.faults` run (make test does its SIGTERM), and `make install` into a
## fresh .venv.
test-deep: install
	$(BIN)/python -m tests.graph.oracle.deep --cases 100000 --workers 2 --out /tmp/oracle-deep
	METAMORPHIC_EXAMPLES=3000 $(BIN)/python -m pytest tests/graph/audit/test_metamorphic.py -p no:cacheprovider
	PUPPIES_DEEP=1 $(BIN)/python -m pytest tests/puppies/test_supervisor.py -k sigterm_to_the_process_group
	PUPPIES_DEEP=1 $(BIN)/python -m pytest tests/operations/test_faults_interrupted.py -k SIGKILL -p no:cacheprovider
	PUPPIES_DEEP=1 $(BIN)/python -m pytest tests/puppies/test_make_install.py -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/deptry .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

compose: install
	$(BIN)/puppies compose

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
