# Every target creates the virtual environment it needs, so a fresh clone works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo bench generate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,mock]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check cmclient tests tools bench
	$(BIN)/mypy cmclient
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python -m cmclient.demo

bench: $(STAMP)
	$(BIN)/python -m bench

generate: $(STAMP)
	$(BIN)/python tools/generate.py
	$(BIN)/python tools/unasync.py

clean:
	rm -rf $(VENV)
