# The course's two commands (see README):  `make book`  and  `make test`.
# Everything else here is what those two need; each step is skipped when already done.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

SLIDES := _build/html/slides/lecture-08.slides.html

.PHONY: help setup venv data browser sandbox database vendor book slides serve test lint format clean bench

help:
	@echo "make book   - set up everything, build the course (executes every chapter), print where to open it"
	@echo "make test   - set up everything, then run the whole test suite (what CI runs)"
	@echo "make slides - export the lecture deck (reveal.js, offline) into _build/html/slides/"
	@echo "make serve  - serve _build/html on http://127.0.0.1:8000"
	@echo "make lint   - ruff check + ruff format --check"
	@echo "make bench  - speed benchmarks (nnlib vs NumPy loop vs PyTorch; grading time per assignment;"
	@echo "              autograder vs nbgrader on 100 submissions; share of mistakes the feedback names)"

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

browser:
	@bash scripts/install-chromium.sh

# The autograder's sandbox (Debian's bubblewrap).
sandbox:
	@bash scripts/install-bubblewrap.sh

# Debian's PostgreSQL server binaries, for the tests of the gradebook on PostgreSQL (each test
# starts its own throw-away server in a temporary folder; no system service).
database:
	@bash scripts/install-postgresql.sh

setup: venv data browser sandbox database

# Browser assets the site serves itself (MathJax 3, reveal.js, ...) from the npm registry into
# _vendor/static/ (git-ignored); skipped when already there.
vendor:
	@bash scripts/vendor-assets.sh

# --- the main job: the book -----------------------------------------------------------------
book: setup vendor
	$(BIN)/python scripts/exercise_pages.py
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@$(MAKE) --no-print-directory $(SLIDES)
	@touch _build/html/.book-built
	@echo ""
	@echo "The course is built. Open it with:"
	@echo "    xdg-open $(CURDIR)/_build/html/index.html"
	@echo "or serve it:  make serve  ->  http://127.0.0.1:8000  (slides: /slides/lecture-08.slides.html)"

# The lecture deck: jupytext -> execute -> nbconvert --to slides (reveal.js and MathJax from _static/)
slides: setup vendor
	$(BIN)/python scripts/build_slides.py

$(SLIDES): lectures/lecture-08.md scripts/build_slides.py $(wildcard scripts/nbconvert/reveal_offline/*) _assets/favicon.svg
	$(BIN)/python scripts/build_slides.py

serve:
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory _build/html 8000

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
	$(BIN)/python benchmarks/bench_grading_time.py
	$(BIN)/python benchmarks/bench_autograder.py
	$(BIN)/python benchmarks/bench_diagnosis.py

clean:
	rm -rf _build .pytest_cache
