# holdout: `make serve` runs the service, `make test` runs every test. Both start with `make install`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

# The pages serve KaTeX themselves (no CDN): fetched once from the npm registry.
KATEX_VERSION := 0.19.1
KATEX_DIR := service/pages/static/vendor/katex

.PHONY: install serve test lint format typecheck bench clean browser wrk libseccomp

install: libseccomp $(STAMP) $(KATEX_DIR)/katex.min.js

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

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: install
	mkdir -p instance
	$(BIN)/holdout db upgrade
	$(BIN)/holdout bank load
	exec $(BIN)/gunicorn -c python:service.gunicorn_conf service.wsgi:app

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

test: install browser lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# Each prints a Markdown table; the README's figures come from these.
bench: install wrk
	$(BIN)/python bench/api.py
	$(BIN)/python bench/grader.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
