# Two commands after a clone: `make run` and `make test`. Each installs what it needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip
STAMP := $(VENV)/.installed
PKGS := libs/contracts libs/runtime services/collections services/ingest services/embedder \
        services/search services/gateway
PYTEST_ARGS ?=
# The web UI: sources in web/, built into the gateway package, which serves it at /.
WEB_STAMP := web/node_modules/.installed
UI_BUILD := services/gateway/gateway_service/static/app/index.html
UI_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
              web/vite.config.ts web/tsconfig.json
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup run test lint format bench clean ui ui-if-npm chromium test-web

setup: $(STAMP) $(UI_BUILD) chromium

$(STAMP): constraints.txt pyproject.toml $(addsuffix /pyproject.toml,$(PKGS))
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24" setuptools wheel
	# torch first, pinned: pip finds the local CPU build (other versions pull CUDA).
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt --no-build-isolation \
		$(foreach p,$(PKGS),-e $(p)) -e ".[dev]"
	touch $(STAMP)

# npm ci from the lock file; Playwright drives Debian's chromium, it downloads no browser.
$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

$(UI_BUILD): $(WEB_STAMP) $(UI_SOURCES)
	cd web && npm run build

ui: $(UI_BUILD)

# `make run` rebuilds a stale UI when npm is there, and serves the build it finds if not.
ui-if-npm:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory ui; \
	 else echo "npm not found: the web UI is served as built (or not at all)"; fi

# For the browser tests (CI runs as root; elsewhere sudo asks).
chromium:
	@test -x $(CHROMIUM) || $(SUDO) apt-get install -y --no-install-recommends chromium \
	  || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)

run: $(STAMP) ui-if-npm
	$(BIN)/semantik run

test: setup
	$(BIN)/python -m pytest --durations=30 --cov --cov-report=term $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-web

# Vitest with line coverage (fails under 70 %), then Playwright against `semantik run`.
test-web: setup
	cd web && npx vitest run --coverage
	cd web && npx playwright test

lint: $(STAMP) $(WEB_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd web && npx tsc --noEmit
	$(BIN)/mypy libs/contracts/semantik_contracts libs/runtime/semantik_runtime \
		services/collections/collections_service services/ingest/ingest_service \
		services/embedder/embedder_service services/search/search_service \
		services/gateway/gateway_service src/semantik examples/subscriber

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	# The core on SQLite, and on PostgreSQL when DATABASE_URL names one.
	$(BIN)/semantik bench core --database-url ""
	if [ -n "$$DATABASE_URL" ]; then $(BIN)/semantik bench core; fi
	$(BIN)/semantik bench ingest
	$(BIN)/semantik bench search

clean:
	rm -rf $(VENV) .semantik .pytest_cache .mypy_cache .ruff_cache .coverage*
	rm -rf web/node_modules web/coverage web/test-results web/e2e/screenshots \
	  services/gateway/gateway_service/static/app
