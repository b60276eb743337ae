# holdout: `make serve` runs the service, `make test` runs every test. Both start with `make install`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2
# Versions are pinned in the lock files (`make lock` writes them from the ranges in pyproject.toml):
# requirements.lock is what runs holdout, -dev adds the test and lint tools, -bench the load tester.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
LOCK = $(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml

# The pages serve KaTeX themselves (no CDN): fetched once from the npm registry.
KATEX_VERSION := 0.19.1
KATEX_DIR := service/pages/static/vendor/katex

.PHONY: install dev lock serve test lint format typecheck bench bench-exam clean browser wrk nginx libseccomp

# The runtime only (what `make serve` needs); `make dev` adds the tools `make test` uses.
install: libseccomp $(RUNTIME_STAMP) $(KATEX_DIR)/katex.min.js

dev: install $(DEV_STAMP)

$(KATEX_DIR)/katex.min.js:
	tmp=$$(mktemp -d) && npm pack --silent --pack-destination "$$tmp" katex@$(KATEX_VERSION) >/dev/null \
	  && tar -xzf "$$tmp/katex-$(KATEX_VERSION).tgz" -C "$$tmp" \
	  && mkdir -p $(KATEX_DIR) \
	  && cp -r "$$tmp/package/dist/katex.min.css" "$$tmp/package/dist/fonts" "$$tmp/package/LICENSE" $(KATEX_DIR)/ \
	  && cp "$$tmp/package/dist/katex.min.js" $(KATEX_DIR)/katex.min.js.part \
	  && mv $(KATEX_DIR)/katex.min.js.part $@ && rm -rf "$$tmp"

# Debian packages: `make test` needs headless Chromium for tests/browser, `make bench` needs wrk.
APT_INSTALL = sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -qq $(1) || { $$sudo apt-get update -qq && $$sudo apt-get install -y -qq $(1); }

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  || { $(call APT_INSTALL,chromium chromium-driver fonts-dejavu-core); }

wrk:
	@command -v wrk >/dev/null || { $(call APT_INSTALL,wrk); }

# The grader's seccomp filter is compiled by libseccomp (through the pyseccomp binding).
libseccomp:
	@/sbin/ldconfig -p | grep -q 'libseccomp\.so\.2' || { $(call APT_INSTALL,libseccomp2); }

# `make test` runs the API behind a real nginx (tests/e2e/test_nginx.py); see deploy/nginx.conf.
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { $(call APT_INSTALL,nginx); }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.lock $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $@

$(BENCH_STAMP): requirements-bench.lock $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -r requirements-bench.lock
	touch $@

# After changing a range in pyproject.toml: pin again (keeping the pins that still fit).
lock: | $(BIN)/python
	test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -c requirements.lock -o requirements-dev.lock
	$(LOCK) --extra bench -c requirements.lock -o requirements-bench.lock

serve: install
	mkdir -p instance
	$(BIN)/holdout db upgrade
	$(BIN)/holdout bank load
	@# Runs each exercise's reference and mutants ahead (a few seconds, once per version);
	@# without a sandbox it says so and the service starts anyway (grading then refuses).
	-$(BIN)/holdout bank warm
	exec $(BIN)/gunicorn -c python:service.gunicorn_conf service.wsgi:app

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: dev
	$(BIN)/mypy

test: dev browser nginx lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# Each prints a Markdown table; the README's figures come from these.
bench: install $(BENCH_STAMP) wrk
	$(BIN)/python bench/api.py
	$(BIN)/python bench/grader.py
	$(BIN)/python bench/pipeline.py

# 1,000 simulated students taking a quiz at once (Locust); heavy: a few minutes of both cores.
bench-exam: install $(BENCH_STAMP)
	$(BIN)/python bench/exam.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
