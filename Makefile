# Two commands after a clone: `make run` and `make test`. Each installs what it needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip
STAMP := $(VENV)/.installed
PKGS := libs/contracts libs/runtime services/collections services/ingest services/embedder \
        services/search services/gateway
PYTEST_ARGS ?=

.PHONY: setup run test lint format bench clean

setup: $(STAMP)

$(STAMP): constraints.txt pyproject.toml $(addsuffix /pyproject.toml,$(PKGS))
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24" setuptools wheel
	# torch first, pinned: pip finds the local CPU build (other versions pull CUDA).
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt --no-build-isolation \
		$(foreach p,$(PKGS),-e $(p)) -e ".[dev]"
	touch $(STAMP)

run: setup
	$(BIN)/semantik run

test: setup
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/contracts/semantik_contracts libs/runtime/semantik_runtime \
		services/collections/collections_service services/ingest/ingest_service \
		services/embedder/embedder_service services/search/search_service \
		services/gateway/gateway_service src/semantik

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
