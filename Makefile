# Driftline entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export KAFKA_PORT ?= 9092
export KAFKA_CONTROLLER_PORT ?= 9093
export DRIFTLINE_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)
KAFKA := deploy/kafka/kafka.sh
PYTEST_ARGS ?=
BENCH ?=
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup bytecode browser kafka-fetch kafka-up kafka-down kafka-status test test-unit lint typecheck bench demo clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found; Driftline needs Python 3.11+ (set PYTHON=...)" >&2; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# The native decode-and-bin extension (app/native, Rust + PyO3, built by maturin through
# pip). Optional: without cargo, or when the build fails, Driftline uses its pure-Python
# path and this says so in one line (the build log is in $(VENV)/native-build.log).
NATIVE_SRC := $(wildcard app/native/src/*.rs) app/native/Cargo.toml app/native/Cargo.lock app/native/pyproject.toml
$(VENV)/.native: $(VENV)/.installed $(NATIVE_SRC)
	@if $(PY) -m pip install --quiet ./app/native >$(VENV)/native-build.log 2>&1; then \
		echo "setup: native decode-and-bin extension built (app/native)"; \
	else \
		$(PY) -m pip uninstall --quiet --yes driftline-native >/dev/null 2>&1; \
		echo "setup: the native extension did not build (needs cargo; see $(VENV)/native-build.log); Driftline uses the pure-Python path" >&2; \
	fi
	@touch $@

# app/'s bytecode, written ahead: the package is installed editable (pip compiles nothing),
# and with PYTHONDONTWRITEBYTECODE set (as on this project's machines) every `python -m app`
# compiled its modules again: 80 ms of a 0.57 s analyze start. Only changed files are redone.
bytecode: $(VENV)/.installed
	@$(PY) -m compileall -q app

setup: $(VENV)/.installed $(VENV)/.native bytecode .tools/promtool .tools/prometheus browser ## Create the virtualenv and install Driftline with its dev tools (the native extension, promtool, prometheus, chromium)

# promtool checks /metrics and the alert rules in the tests, the server scrapes a worker in
# one; both from Debian's prometheus package, unpacked under .tools/
# (deploy/prometheus/promtool.sh). Without them setup goes on: only those tests fail.
.tools/promtool .tools/prometheus:
	@deploy/prometheus/promtool.sh || true

# chromium loads the HTML report in the tests (deploy/chromium.sh: Debian's package, installed
# only as root). Without it setup goes on: only the browser tests fail.
browser:
	@deploy/chromium.sh || true

kafka-fetch: ## Fetch the Apache Kafka jars from Maven Central into .kafka/ (once)
	@$(KAFKA) fetch

kafka-up: ## Start the local single-node KRaft broker on 127.0.0.1 (port KAFKA_PORT, 9092; no-op if up)
	@$(KAFKA) up

kafka-down: ## Stop the local broker this checkout started (by its PID)
	@$(KAFKA) down

kafka-status: ## Say whether the local broker is running and answering
	@$(KAFKA) status

test: setup ## Everything a fresh clone needs: setup, broker up, all tests, broker down
	@was_up=0; $(KAFKA) status >/dev/null 2>&1 && was_up=1; \
	if ! $(KAFKA) up; then [ $$was_up = 1 ] || $(KAFKA) down; exit 1; fi; \
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	[ $$was_up = 1 ] || $(KAFKA) down; \
	if [ $$status = 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

test-unit: setup ## Unit tests only (no broker)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: setup ## ruff
	$(PY) -m ruff check app tests
	$(PY) -m ruff format --check app tests

typecheck: setup ## mypy (strict) on app/ and tests/
	$(PY) -m mypy

bench: setup ## Benchmarks (speed, memory) printed with their conditions; starts the broker
	@was_up=0; $(KAFKA) status >/dev/null 2>&1 && was_up=1; \
	if ! $(KAFKA) up; then [ $$was_up = 1 ] || $(KAFKA) down; exit 1; fi; \
	$(PY) -m tests.bench $(BENCH); status=$$?; \
	[ $$was_up = 1 ] || $(KAFKA) down; exit $$status

demo: setup ## The main job end to end: broker, topics, baseline, worker, drifting traffic, alerts
	@was_up=0; $(KAFKA) status >/dev/null 2>&1 && was_up=1; \
	if ! $(KAFKA) up; then [ $$was_up = 1 ] || $(KAFKA) down; exit 1; fi; \
	trap '[ $$was_up = 1 ] || $(KAFKA) down' EXIT; trap 'exit 130' INT TERM; \
	$(PY) -m app demo $(DEMO_ARGS)

clean: kafka-down ## Stop the broker and remove the virtualenv, broker data and caches
	rm -rf $(VENV) .kafka/data .kafka/logs .tools .pytest_cache .mypy_cache .ruff_cache
