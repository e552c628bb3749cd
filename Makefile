# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv when it is absent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
# The venv's bytecode is compiled at install; this project's own modules and pytest's rewritten test modules are
# compiled on first import and written beside them, so later processes and runs load them: a machine may set
# PYTHONDONTWRITEBYTECODE, and then every process compiled them again (a worker's collection 9.5 s -> 5.6 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install demo test format bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv (a PyPI package, installed into the venv) installs the ~150 wheels about 7x faster than pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
	@# --compile-bytecode: otherwise the first run compiles every module it imports (Prefect's server too: seconds)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Migrate the bundled sample into the embedded SQLite store and write the quality report.
demo: $(STAMP)
	$(BIN)/crmkit demo

## Lint, then the whole test suite (services tests skip without servers unless CRMKIT_REQUIRE_SERVICES=1) in one
## pytest-xdist worker per core plus one, a module's tests in one worker, modules in the order tests/conftest.py
## gives them (xdist 3.8 would otherwise sort them by their number of tests and start the long ones last);
## `make test WORKERS=0` runs it in one process. The extra worker fills the time the others spend waiting on the
## Prefect servers and child processes their tests start.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1)')
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# mypy --strict on the packages ([tool.mypy] in pyproject.toml: ~25 s of CPU cold, 1-3 s with its cache in .venv)
	@# runs beside pytest, whose workers leave part of the cores idle while they wait on Prefect servers and child
	@# processes; its report follows pytest's, and either failing fails the target
	@$(BIN)/mypy > $(VENV)/mypy.out 2>&1 & mypy=$$!; \
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder; tests=$$?; \
	wait $$mypy; typed=$$?; echo "mypy:"; cat $(VENV)/mypy.out; test $$tests -eq 0 && test $$typed -eq 0

## The README's pictures (docs/img/), taken by the browser tests; a plain test run saves them in a temporary folder.
screenshots: $(STAMP)
	CRMKIT_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:randomly -k "browser or readme_picture" \
		tests/pipelines/web/test_browser.py tests/pipelines/test_report.py tests/analytics/test_store.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks (not tests): installs the `bench` extra (Splink) on demand. ~100k rows each; see README.
bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,bench]'
	$(BIN)/python benchmarks/migrate.py
	$(BIN)/python benchmarks/normalise.py
	$(BIN)/python benchmarks/match.py

clean:
	rm -rf out .pytest_cache .ruff_cache
