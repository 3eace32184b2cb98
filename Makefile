# The README's two commands. Each sets up its own environment in .venv
# (made with the machine's python3; a no-op in seconds once it is there),
# with every package at the exact version of requirements/lock.txt.
#   make test                the whole test suite
#   make book [PROFILE=cpu] [DATA=dir]  execute the notebooks under a profile (on a data set) and build the book
#   make lock                refresh requirements/lock.txt from pyproject.toml's ranges

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= cpu
DATA ?=
# torch is installed before the package so that pip keeps it: the CPU build on
# this kind of machine; set TORCH_SPEC= to keep a torch you already have.
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mtlsed-installed
LOCK := requirements/lock.txt
# The lock without its torch line: pip then keeps the torch already installed (TORCH_SPEC, or yours).
CONSTRAINTS := $(VENV)/constraints.txt
PYTEST_ARGS ?=
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip warns once per package about index folders this machine's pip config
# names but lacks; keep the real messages, drop that noise.
PIPQUIET := grep -v "is ignored: it is neither a file nor a directory" || true

.PHONY: test book env lint clean help notebooks lock setup-cells
.DEFAULT_GOAL := help

help:
	@echo "make test                 run the whole test suite"
	@echo "make book [PROFILE=cpu] [DATA=dir]"
	@echo "                          execute the notebooks with papermill under a profile (ci, cpu,"
	@echo "                          paper, or a profile file) and build the Jupyter Book; DATA: a"
	@echo "                          dataset folder (mtlsed import makes one) instead of the embedded set"
	@echo "make env                  only set up $(VENV)"
	@echo "make lock                 refresh $(LOCK): the newest releases within pyproject.toml's ranges"

# The stamp records that the environment matches pyproject.toml and the lock; it is
# rebuilt only when one of them changes, so a second `make test` installs nothing.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@grep -v '^torch==' $(LOCK) > $(CONSTRAINTS)
	@if [ -n "$(TORCH_SPEC)" ] && ! $(PY) -c "import torch" 2>/dev/null; then \
		echo "installing $(TORCH_SPEC) into $(VENV)"; \
		$(PY) -m pip install --quiet -c $(CONSTRAINTS) "$(TORCH_SPEC)" 2>&1 | { $(PIPQUIET); }; fi
	@echo "installing mtlsed with its book and test extras into $(VENV) (versions of $(LOCK))"
	@$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[book,test]" 2>&1 | { $(PIPQUIET); }
	@touch $@

env: $(STAMP)

# Two workers, one group of tests at a time each (tests/conftest.py says which tests share a group).
test: $(STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

book: $(STAMP)
	$(PY) -m mtlsed book --profile $(PROFILE) $(if $(DATA),--data "$(DATA)")

# Maintainers: rebuild notebooks/*.ipynb from their .py twins and execute them under their default
# profile, cpu (the outputs a reader of the repository sees; the runs of `make book` are reused).
notebooks: $(STAMP)
	$(PY) -m mtlsed book --refresh-notebooks

# A fresh environment from pyproject.toml's ranges alone, frozen. Run the tests and the
# book on it before committing the new lock (README, "Updating the lock").
LOCKVENV := .lock-venv
lock:
	rm -rf $(LOCKVENV)
	$(PYTHON) -m venv $(LOCKVENV)
	$(LOCKVENV)/bin/python -m pip install --quiet "$(or $(TORCH_SPEC),torch)" 2>&1 | { $(PIPQUIET); }
	$(LOCKVENV)/bin/python -m pip install --quiet -e ".[book,test]" 2>&1 | { $(PIPQUIET); }
	@mkdir -p $(dir $(LOCK))
	@{ echo "# Exact versions that make test, make book and CI install (make lock writes this file)."; \
	   echo "# Made $$(date -u +%Y-%m-%d) with $$($(LOCKVENV)/bin/python -c 'import platform; print("Python", platform.python_version(), "on", platform.system(), platform.machine())')."; \
	   echo "# torch's line carries no local tag (+cpu, +cu126): the torch already installed satisfies it."; \
	   $(LOCKVENV)/bin/python -m pip freeze --all --exclude-editable \
	   | grep -v -E '^(pip|wheel)==' | sed -E 's/^(torch==[^+]*)\+.*/\1/' | LC_ALL=C sort -f; } > $(LOCK)
	rm -rf $(LOCKVENV)
	@echo "wrote $(LOCK) ($$(grep -c '==' $(LOCK)) packages)"

# The notebooks' header cells (mtlsed/book/header.py) into every notebook and its twin;
# after setting REPOSITORY in mtlsed/book/publish.py, every notebook's first cell installs from it.
setup-cells: $(STAMP)
	$(PY) -c "from mtlsed.book.build import write_header_cells; print(*write_header_cells() or ['unchanged'], sep='\n')"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf _build
