# One entry point for people and CI. `make test` installs everything it needs first.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# llama.cpp's native build crashes on some CPUs in its AMX kernels: build it portably.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: install lint typecheck test bench demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $@

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite on two cores (each test has its own database and port), then the bundled
# model's tests alone: llama.cpp's threads would fight another test for the CPU.
test: install lint typecheck
	scripts/ensure-postgres.sh
	scripts/ensure-chromium.sh
	$(BIN)/pytest -n 2 -m "not slow"
	$(BIN)/pytest -m slow

bench: install
	$(BIN)/python -m bench.pipeline
	scripts/ensure-postgres.sh
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.web

demo: install
	$(BIN)/courseforge generate "How photosynthesis works"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache courses courseforge.db*
