# EDAFormer — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch (on our machines it lies on local disk); set TORCH_SPEC= to keep the torch you have,
# or e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" for a GPU build.
TORCH_SPEC ?= torch==2.13.0
ARGS ?=
# Test processes (pytest-xdist): one per core; a test file runs in one process, so its fixtures are built once.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install train eval test test-fast gpu-check lint format complexity notebooks clean

help: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install $(TORCH_SPEC); fi
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its dev tools

train: $(STAMP) ## train EDAFormer-T on the built-in demo data (ARGS="model=edaformer_b ..." to override)
	$(BIN)/python train.py $(ARGS)

eval: $(STAMP) ## evaluate a checkpoint (ARGS="ckpt_path=... isr=paper")
	$(BIN)/python eval.py $(ARGS)

test: lint ## ruff (lint + format check), then the whole test suite
	$(PYTEST) $(ARGS)

test-fast: $(STAMP) ## run the tests not marked slow
	$(PYTEST) -m "not slow" $(ARGS)

gpu-check: $(STAMP) ## on a CUDA machine: pytest -m cuda + GPU benchmark tables -> docs/benchmarks_gpu.md (< 8 min)
	$(BIN)/python scripts/gpu_check.py $(ARGS)

lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

complexity: $(STAMP) ## print the paper's Table 1/4 (params, GFLOPs) next to ours
	$(BIN)/python scripts/complexity.py table=paper

notebooks: $(STAMP) ## write and run the notebooks, keep their outputs, render them into docs/notebooks/
	$(BIN)/python notebooks/build_notebooks.py --execute

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache outputs multirun
