# Every target creates .venv and installs into it first, so on a fresh machine
# with only Python 3.11+ `make run` and `make test` are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test demo bench bench-feeds lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/monitor run --config config.example.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/monitor demo

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_matcher.py

bench-feeds: $(STAMP)
	$(BIN)/python benchmarks/bench_feeds.py

LINT_STAMP := $(VENV)/.lint-stamp

$(LINT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $(LINT_STAMP)

lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy
	$(BIN)/hadolint Dockerfile

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
