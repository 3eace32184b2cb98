# The README's two commands. Each sets up its own environment in .venv
# (made with the machine's python3; a no-op in seconds once it is there).
#   make test                the whole test suite
#   make book [PROFILE=cpu] [DATA=dir]  execute the notebooks under a profile (on a data set) and build the book

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= cpu
DATA ?=
# torch is installed before the package so that pip keeps it: the CPU build on
# this kind of machine; set TORCH_SPEC= to keep a torch you already have.
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mtlsed-installed
PYTEST_ARGS ?=
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip warns once per package about index folders this machine's pip config
# names but lacks; keep the real messages, drop that noise.
PIPQUIET := grep -v "is ignored: it is neither a file nor a directory" || true

.PHONY: test book env lint clean help notebooks
.DEFAULT_GOAL := help

help:
	@echo "make test                 run the whole test suite"
	@echo "make book [PROFILE=cpu] [DATA=dir]"
	@echo "                          execute the notebooks with papermill under a profile (ci, cpu,"
	@echo "                          paper, or a profile file) and build the Jupyter Book; DATA: a"
	@echo "                          dataset folder (mtlsed import makes one) instead of the embedded set"
	@echo "make env                  only set up $(VENV)"

# The stamp records that the environment matches pyproject.toml; it is rebuilt
# only when pyproject.toml changes, so a second `make test` installs nothing.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_SPEC)" ] && ! $(PY) -c "import torch" 2>/dev/null; then \
		echo "installing $(TORCH_SPEC) into $(VENV)"; \
		$(PY) -m pip install --quiet "$(TORCH_SPEC)" 2>&1 | { $(PIPQUIET); }; fi
	@echo "installing mtlsed with its book and test extras into $(VENV)"
	@$(PY) -m pip install --quiet -e ".[book,test]" 2>&1 | { $(PIPQUIET); }
	@touch $@

env: $(STAMP)

# Two workers, one group of tests at a time each (tests/conftest.py says which tests share a group).
test: $(STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

book: $(STAMP)
	$(PY) -m mtlsed book --profile $(PROFILE) $(if $(DATA),--data "$(DATA)")

# Maintainers: rebuild notebooks/*.ipynb from their .py twins with ci outputs (what nbval guards).
notebooks: $(STAMP)
	$(PY) -m mtlsed book --refresh-notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf _build
