# Two commands do all set-up: `make demo` and `make test` (both install into .venv first).
# Versions: ranges in pyproject.toml, the exact set known to work in constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet -c constraints.txt

.PHONY: install demo test lint check-extras android bench bench-device clean

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

# Android sample app (android_demo/README.md): JVM tests of the Kotlin core against the Python runtime's
# golden vectors, then a signed debug APK, offline with Debian's tools (installed with apt when missing).
android:
	bash android_demo/build.sh

bench: install
	$(PIP) -e '.[bench]'
	$(BIN)/python benchmarks/tc_throughput.py --data-root $(or $(DATA_ROOT),../shared/data)
	$(BIN)/python benchmarks/gradcache_memory.py --data-root $(or $(DATA_ROOT),../shared/data)

# On-device benchmark (issue 9): the default backbone's int8 bundle next to fp32, a merged per-task int8
# model, PyTorch eager + PEFT and ExecuTorch; results in docs/benchmarks/bench/. Run it on an idle machine.
bench-device: install
	$(PIP) -e '.[bench]'
	$(BIN)/python benchmarks/bench_bundle.py bench_out/bundle
	$(BIN)/mtpf-deploy bench --bundle bench_out/bundle --out docs/benchmarks/bench

clean:
	rm -rf $(VENV) build *.egg-info demo_out android_demo/build
