# The course's two commands (see README):  `make book`  and  `make test`.
# Everything else here is what those two need; each step is skipped when already done.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help setup venv data book slides test lint format clean bench

help:
	@echo "make book   - set up everything, build the course (executes every chapter), print where to open it"
	@echo "make test   - set up everything, then run the whole test suite (what CI runs)"
	@echo "make slides - export the lecture deck (reveal.js, offline)"
	@echo "make lint   - ruff check + ruff format --check"
	@echo "make bench  - speed benchmarks (nnlib vs NumPy loop vs PyTorch; autograder vs nbgrader)"

# --- set-up ---------------------------------------------------------------------------------
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

data: venv
	@bash scripts/ensure-data.sh $(BIN)/python

setup: venv data

# --- the main job: the book -----------------------------------------------------------------
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo ""
	@echo "The course is built. Open it with:"
	@echo "    xdg-open $(CURDIR)/_build/html/index.html"
	@echo "or serve it:  $(BIN)/python -m http.server -d _build/html 8000  ->  http://localhost:8000"

# --- the tests ------------------------------------------------------------------------------
test: setup
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python benchmarks/bench_nnlib.py

clean:
	rm -rf _build .pytest_cache
