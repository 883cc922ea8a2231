# mmseg-trf: `make demo` (the main job) and `make test`. Both install the
# environment first when it is missing.
#
#   make install [VENV=path]   create/complete the environment (default .venv;
#                              an existing virtualenv or conda env is reused)
#   make demo [SCENARIO=file]  the end-to-end demo on generated data
#   make test                  the default test suite (no slow tests)
#   make test-all              every test, slow ones included
#   make bench                 the metric benchmark (benchmarks/)

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmseg-trf-installed
SCENARIO ?= configs/demo/scenario_default.yaml
DEMO_ARGS ?=

.PHONY: install demo test test-all bench clean-demo

install: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/tests.txt tools/install_stack.sh
	bash tools/install_stack.sh $(VENV)
	touch $(STAMP)

demo: install
	$(PY) tools/demo.py $(SCENARIO) $(DEMO_ARGS)

test: install
	$(PY) -m pytest tests -m "not slow"

test-all: install
	$(PY) -m pytest tests

bench: install
	$(PY) benchmarks/bench_metrics.py
