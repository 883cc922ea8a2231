# mmseg-trf: `make demo` (the main job) and `make test`. Both install the
# environment first when it is missing.
#
#   make install [VENV=path]   create/complete the environment (default .venv;
#                              an existing virtualenv or conda env is reused)
#   make demo [SCENARIO=file]  the end-to-end demo on generated data
#   make test                  style checks and the default test suite
#   make test-all              every test, slow ones included
#   make bench                 the metric benchmark (benchmarks/)

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmseg-trf-installed
SCENARIO ?= configs/demo/scenario_default.yaml
DEMO_ARGS ?=
LINTED := mmseg_trf tools tests benchmarks configs setup.py

.PHONY: install demo test test-all lint bench

install: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/tests.txt tools/install_stack.sh
	bash tools/install_stack.sh $(VENV)
	touch $(STAMP)

demo: install
	$(PY) tools/demo.py $(SCENARIO) $(DEMO_ARGS)

test: install lint
	$(PY) -m pytest tests -m "not slow"

lint: install
	$(PY) -m flake8 $(LINTED)
	$(PY) -m isort --check-only --diff $(LINTED)
	$(PY) -m yapf --diff --recursive $(LINTED)

test-all: install
	$(PY) -m pytest tests

bench: install
	$(PY) benchmarks/bench_metrics.py
