# Two commands do all set-up: `make demo` and `make test` (both install into .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	touch $@

demo: install
	bash scripts/demo.sh

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/tc_throughput.py --data-root $(or $(DATA_ROOT),../shared/data)
	$(BIN)/python benchmarks/gradcache_memory.py --data-root $(or $(DATA_ROOT),../shared/data)

clean:
	rm -rf $(VENV) build *.egg-info demo_out
