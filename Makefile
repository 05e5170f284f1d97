# shopsite: `make run` to start the shop, `make test` to test it. `make help` lists every target.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) -m shopsite.localstack
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run serve test test-fast bench lint format audit migrate seed tools venv dev stack-up stack-down stack-status stack-env stack-destroy

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(PY):
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "python3 -m venv failed: install python3-venv (Debian) or Python 3.11" >&2; exit 1; fi; }
	@$(PY) -m pip install -q --upgrade pip

# Production's requirements (requirements.txt), reinstalled whenever that file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

# The test, lint, bench and development tools on top (requirements-dev.txt), reinstalled whenever
# either file changes.
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

dev: $(VENV)/.installed-dev

stack-up: venv ## Start PostgreSQL primary + replica, a PgBouncer for each, and Redis under var/ (idempotent)
	@$(STACK) up

stack-down: ## Stop the local stack's servers
	@$(STACK) down

stack-status: ## Show which of the local stack's servers run
	@$(STACK) status

stack-env: ## Print the stack's settings as export lines: eval "$$(make -s stack-env)"
	@$(STACK) env

stack-destroy: ## Stop the local stack and delete its data
	@$(STACK) destroy

# manage.py runs with the local settings, which load the debug toolbar: hence the dev install.
migrate: stack-up dev ## Apply migrations to the primary
	$(PY) manage.py migrate --no-input

seed: migrate ## Seed the demo shop (2,000 products, 5,000 customers, 50,000 orders) if it is empty
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py refresh_reports || [ $$? -eq 75 ]  # 75: another refresh is running, fine
	@grep '^demo-staff ' var/demo-logins.txt 2>/dev/null | awk '{print "Staff login for /admin/: " $$1 " / " $$2}' || true

run: seed dev ## Create the venv, start the stack, migrate, seed, and serve on http://127.0.0.1:8000
	@if [ -z "$$EMAIL_URL" ]; then echo "Emails (order confirmations, shipped notices, password resets) are written to var/mail/, a file per send (EMAIL_URL=smtp://... sends them instead)"; \
	else echo "Emails are sent to the mail server of EMAIL_URL"; fi
	$(PY) manage.py runserver $(HOST):$(PORT)

# The production topology on loopback: nginx -> gunicorn (production settings, WEB_CONCURRENCY
# workers) -> PgBouncer -> PostgreSQL, and Redis. STACK_WEB_PORT and STACK_APP_PORT choose the ports.
serve: seed ## Serve the shop as production does (nginx, gunicorn, PgBouncer) on http://127.0.0.1:8080
	@$(STACK) serve

# The browser tests drive Debian's chromium through chromium-driver (no browser download); the
# benchmarks load pages with wrk. Installed from Debian's packages when root, else named.
tools:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium, chromium-driver and wrk for the browser tests and benchmarks"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver wrk >/dev/null; \
	  else echo "the tests need chromium, chromium-driver and wrk: install them (Debian: apt-get install chromium chromium-driver wrk)" >&2; fi; }

# Two replicas, so that the tests can show reads spread over both and surviving one's loss.
test: export STACK_REPLICAS = 2
test: stack-up dev tools ## Run the whole test suite against the local stack (primary, 2 replicas, Redis)
	$(PY) -m pytest

# The development loop: no integration, browser or benchmark tests, a tenth of hypothesis's examples,
# on two workers (each with its own test database and Redis database).
test-fast: export HYPOTHESIS_PROFILE = quick
test-fast: stack-up dev ## Run the quick tests only, on 2 workers (see `make test` for the whole suite)
	$(PY) -m pytest -n 2 -m "not integration and not e2e and not bench"

bench: export STACK_REPLICAS = 2
bench: stack-up dev tools ## Run every benchmark (BENCH_SCALE orders, default 1,000,000) into bench/results/latest.md
	$(PY) bench/run.py --scale $(or $(BENCH_SCALE),1000000)

lint: dev ## Check the code with ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# --strict: a package the service cannot look up fails the audit instead of passing unaudited. It
# needs PyPI's JSON API (pypi.org/pypi/NAME/VERSION/json): not in CI while CI's network lacks it.
audit: dev ## Check the pinned requirements against PyPI's vulnerability data (pip-audit)
	$(VENV)/bin/pip-audit --strict --no-deps --disable-pip --vulnerability-service pypi -r requirements.txt -r requirements-dev.txt

format: dev ## Format and auto-fix the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
