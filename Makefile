# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test lint contract contract-deep bench wrk soak mock-compare spec-diff-compare clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test,bench]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed-contract $(VENV)/.installed

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	@touch $@ $(VENV)/.installed-contract $(VENV)/.installed

# `craftkit contract-test` needs only the contract extra (the test extra includes it).
$(VENV)/.installed-contract: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[contract]'
	@touch $@ $(VENV)/.installed

## run: install, seed the demo into SQLite, serve on 127.0.0.1:8080 and print a curl line
run: $(VENV)/.installed
	$(BIN)/craftkit demo
	$(BIN)/craftkit serve

## test: install with test extras and run every test, on TEST_WORKERS pytest-xdist workers (3;
##       TEST_WORKERS=0: in this process). The suite mostly waits on servers, subprocesses and
##       databases, so three workers keep a 2-core machine busy; each is handed two tests at a time.
TEST_WORKERS ?= 3
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxschedchunk 2 $(PYTEST_ARGS)

## contract: the contract suite against a running server: make contract URL=http://… [KEY=ck_…] [FOREIGN_KEY=ck_…] [ARGS=…]
##           (KEY and FOREIGN_KEY default to $CRAFTKIT_CONTRACT_KEY and $CRAFTKIT_CONTRACT_FOREIGN_KEY)
KEY ?= $(CRAFTKIT_CONTRACT_KEY)
FOREIGN_KEY ?= $(CRAFTKIT_CONTRACT_FOREIGN_KEY)
contract: $(VENV)/.installed-contract
	@test -n "$(URL)" -a -n "$(KEY)" || { echo "usage: make contract URL=http://host:port KEY=ck_… [FOREIGN_KEY=ck_…] [ARGS='--render-id …'] (or the keys in CRAFTKIT_CONTRACT_KEY, CRAFTKIT_CONTRACT_FOREIGN_KEY)"; exit 2; }
	@echo "craftkit contract-test --url $(URL) $(ARGS)  (keys from the environment, not echoed)"
	@CRAFTKIT_CONTRACT_KEY="$(KEY)" CRAFTKIT_CONTRACT_FOREIGN_KEY="$(FOREIGN_KEY)" \
	  $(BIN)/craftkit contract-test --url "$(URL)" $(ARGS)

## contract-deep: the in-process contract suite with ten times the examples, on a new seed (or SEED=…)
contract-deep: $(VENV)/.installed-test
	CRAFTKIT_CONTRACT_MAX_EXAMPLES=10000 CRAFTKIT_CONTRACT_SEED=$(or $(SEED),$(shell date +%s)) \
	  $(BIN)/python -m pytest -s contract_tests/test_schemathesis.py $(PYTEST_ARGS)

## lint: ruff (lint + format check) and mypy
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: craftkit beside stock Connexion and FastAPI under wrk (on PostgreSQL too when it answers at
##        CRAFTKIT_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/craftkit_bench),
##        in-process latencies, and craftkit proxy
##        beside Prism's proxy (Prism from npm into ~/.cache/craftkit-prism on first use;
##        BENCH_ARGS=--no-prism skips it) -> bench/results.md, then data at scale (summary latency against 10..1e6 events, ingestion of 1e6 events,
##        the partitioned layout) -> bench/results-scale.md; PostgreSQL joins the in-process and
##        scale parts with CRAFTKIT_BENCH_POSTGRES_URL=postgresql://…
bench: $(VENV)/.installed-bench wrk
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

# wrk is Debian's `wrk` package; installed with apt-get when missing (as root, or through sudo).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "wrk is missing: installing Debian's wrk package"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi \
	  || { echo "could not install wrk: run \`sudo apt-get install -y wrk\` (Debian/Ubuntu) and retry"; exit 2; }; }

## soak: 64 connections, 30 s of mixed traffic on a private PostgreSQL while 100k events ingest
soak: $(VENV)/.installed-test
	$(BIN)/python -m bench.soak --seconds 30 $(SOAK_ARGS)

## mock-compare: the corpus checks against craftkit's mock and Prism (npm, into ~/.cache) -> docs/mock.md
PRISM_DIR ?= $(HOME)/.cache/craftkit-prism
mock-compare: $(VENV)/.installed-test
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install Prism (apt-get install npm)"; exit 2; }
	@test -x $(PRISM_DIR)/node_modules/.bin/prism || { mkdir -p $(PRISM_DIR) && \
	  npm install --prefix $(PRISM_DIR) --no-audit --no-fund @stoplight/prism-cli; }
	$(BIN)/python -m bench.mock_compare --prism $(PRISM_DIR)/node_modules/.bin/prism $(COMPARE_ARGS)

## spec-diff-compare: the labelled spec-diff pairs through craftkit, Specmatic (npm, Java 17) and
##        oasdiff (when on PATH) -> the table in docs/spec-diff.md
spec-diff-compare: $(VENV)/.installed-test
	$(BIN)/python -m contract_tests.spec_diff.compare $(COMPARE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache reports
