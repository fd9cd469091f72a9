# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint typecheck imports unit integration bench bench-quality clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ai-worker demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/contracts -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

test: lint typecheck imports
	$(BIN)/pytest tests -q

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# Memory quality on annotated conversations (DATA: folders in the two formats of ../shared/data).
DATA ?= ../shared/data/irc-dev ../shared/data/locomo-dev
bench-quality: $(STAMP)
	$(BIN)/python bench/memory_quality.py $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
