# Two commands do all set-up: `make demo` and `make test` (both install into .venv first).
# Versions: ranges in pyproject.toml, the exact set known to work in constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet -c constraints.txt

.PHONY: install demo test lint check-extras bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) -e '.[all,dev]'
	touch $@

demo: install
	bash scripts/demo.sh

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check mtpf_deploy tests benchmarks scripts
	$(BIN)/mypy

# Each extra alone in a fresh venv: [runtime] runs the runtime tests without torch, [export] exports.
check-extras: install
	PYTHON=$(PYTHON) bash scripts/check_extras.sh

bench: install
	$(PIP) -e '.[bench]'
	$(BIN)/python benchmarks/tc_throughput.py --data-root $(or $(DATA_ROOT),../shared/data)
	$(BIN)/python benchmarks/gradcache_memory.py --data-root $(or $(DATA_ROOT),../shared/data)

clean:
	rm -rf $(VENV) build *.egg-info demo_out
