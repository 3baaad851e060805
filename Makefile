# GridGov — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run setup test fuzz lint format openapi openapi-check bench bench-quick chaos demo-hotline demo-mobile clean help

help:
	@echo "make run        set up everything (venv, embedded PostgreSQL, migrations, demo data) and serve"
	@echo "make test       run the test suite against a real PostgreSQL"
	@echo "make fuzz       the API fuzzer (schemathesis) with 10x the examples \`make test\` uses"
	@echo "make lint       ruff"
	@echo "make openapi    write openapi/<service>.json"
	@echo "make bench      benchmarks; one report in bench/results/REPORT.md (+ report.json, bench.png)"
	@echo "make chaos      faults under load (kill -9 dispatch, freeze the registry, restart PostgreSQL), then check nothing was lost; CHAOS_ARGS=--quick"
	@echo "make demo-mobile   one resident's journey (login, bind, report with a photo, rate) against a running \`make run\`"
	@echo "make demo-hotline  push a day of 12345 work orders into a running \`make run\` and receive the callbacks"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m tools.devstack run

setup: $(STAMP)
	$(PY) -m tools.devstack setup

# one worker per core (pytest-xdist), each with its own migrated database; PYTEST_ARGS="-n 0" runs serially
test: $(STAMP)
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

# schemathesis against every service's OpenAPI document (tests/fuzz); `make test` runs it with
# FUZZ_EXAMPLES=3 cases per operation and mode, this with 30; per-operation statuses go to stdout
FUZZ_EXAMPLES ?= 30
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -n auto -m fuzz -rP tests/fuzz $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

openapi: $(STAMP)
	$(PY) -m tools.openapi write

openapi-check: $(STAMP)
	$(PY) -m tools.openapi check

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)
	$(PY) -m bench.dispatch $(BENCH_ARGS)
	$(PY) -m bench.hotline $(BENCH_ARGS)
	$(PY) -m bench.wishes $(BENCH_ARGS)
	$(PY) -m bench.mobile $(BENCH_ARGS)
	$(PY) -m bench.report

# its own stack on free ports and .data/pg-chaos; report in bench/results/CHAOS.md
chaos: $(STAMP)
	$(PY) -m tools.chaos $(CHAOS_ARGS)

demo-mobile: $(STAMP)
	$(PY) -m tools.demo_mobile $(DEMO_ARGS)

demo-hotline: $(STAMP)
	$(PY) -m tools.demo_hotline $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
