# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast bench schema fmt lint browser-deps services

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python compiles llama.cpp from source. A native build (-march=native) uses every
# instruction of the building CPU, AMX and AVX-512 included, and crashed (SIGSEGV on prompt
# evaluation) on a machine of this workplace whose CPU reports AMX. So it is built once for
# AVX2/FMA/F16C, which every x86-64 machine here has, into a wheel directory of its own keyed
# by those flags (pip's own cache is keyed by the sdist only, so it would hand back a native
# build), and installed from there.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS ?= $(HOME)/.cache/labeling/llama-cpp-python-$(LLAMA_VERSION)-avx2

$(STAMP): pyproject.toml | $(BIN)/python
	@if [ "$$(uname -m)" = x86_64 ] && ! ls $(LLAMA_WHEELS)/*.whl >/dev/null 2>&1; then \
	  echo "Building llama-cpp-python $(LLAMA_VERSION) for AVX2 (once per machine, 6-9 minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-cache-dir --no-deps \
	    -w $(LLAMA_WHEELS) 'llama-cpp-python==$(LLAMA_VERSION)'; fi
	$(BIN)/pip install --quiet --find-links $(LLAMA_WHEELS) -e '.[dev,local-model]'
	@touch $(STAMP)

install: $(STAMP)

## Bring the app up with a demo project (SQLite unless DATABASE_URL is set).
run: $(STAMP)
	BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) bash scripts/run-dev

## Headless Chromium for the browser tests, from Debian's packages.
browser-deps:
	@bash scripts/ensure-chromium

## The whole suite, on PostgreSQL and Redis (see README). CI gets a fresh test database.
test: $(STAMP) browser-deps
	$(BIN)/python -m pytest $(if $(filter true,$(CI)),--create-db,--reuse-db) $(PYTEST_ARGS)

## The suite without the slow (browser, subprocess) tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest --reuse-db -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Regenerate the committed OpenAPI schema (tests fail when it drifts). Field bounds follow the
## database backend, so it is generated for PostgreSQL (the URL is never connected to).
schema: $(STAMP)
	DATABASE_URL=postgresql://schema@127.0.0.1:1/none $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Start local PostgreSQL and Redis if they are not answering (Debian packages).
services:
	@bash scripts/ensure-services
