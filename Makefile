# Two commands a fresh clone needs: `make run` and `make test`.
# Every target bootstraps .venv idempotently (re-installs only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-tools bench bench-smoke lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/wdp serve

# Commands the tests run that pip cannot install: h5dump and h5clear (Debian's
# hdf5-tools: recordings must be readable by standard HDF5 tools), Chromium (the
# dashboard's browser test), node and npm (the JavaScript spec client, the browser test
# driver). Each missing one is installed with apt-get when we are root; otherwise a
# warning, and the tests that need it skip (or fail when CI is set).
CHROMIUM := /usr/bin/chromium

test-tools:
	@missing=""; \
	{ command -v h5dump && command -v h5clear; } >/dev/null 2>&1 || missing="$$missing hdf5-tools"; \
	[ -x $(CHROMIUM) ] || command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages the tests need:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
			>/dev/null || echo "warning: could not install$$missing: the tests that need them will skip, or fail when CI is set" >&2; \
	else \
		echo "warning: missing Debian packages$$missing (install them as root with apt-get): the tests that need them will skip, or fail when CI is set" >&2; \
	fi

SPEC_NODE := tests/spec_clients/node_modules/.installed

# The spec's JavaScript client runs under Node with the `ws` package.
$(SPEC_NODE): tests/spec_clients/package.json | test-tools
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/spec_clients --no-package-lock --no-audit --no-fund --silent \
		&& touch $(SPEC_NODE); \
	else echo "npm not found: the JavaScript spec-client test will be skipped"; fi

BROWSER_NODE := tests/browser/node_modules/.installed

# The dashboard's browser test: playwright-core (a driver only, it downloads no browser)
# driving Debian's Chromium (test-tools).
$(BROWSER_NODE): tests/browser/package.json | test-tools
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/browser --no-package-lock --no-audit --no-fund --silent \
		&& touch $(BROWSER_NODE); \
	else echo "npm not found: the dashboard browser test will be skipped"; fi

# Autobahn|Testsuite (wstest, Python 2.7 only) for the conformance test: the script finds
# a Python 2.7 (pyenv's, or python2.7 / python2 on PATH; Debian ships none) and installs
# wstest from PyPI into .venv-autobahn.
AUTOBAHN := .venv-autobahn/bin/wstest

$(AUTOBAHN):
	tools/install_autobahn.sh || echo "warning: could not install the Autobahn testsuite: its test will skip, or fail when CI is set" >&2

test: $(STAMP) test-tools $(SPEC_NODE) $(BROWSER_NODE) $(AUTOBAHN)
	$(BIN)/python -m pytest -q

# Every bench runs; a full run that misses a goal exits non-zero (bench/goals.py) and
# `make bench` fails at the end, naming those benches. --smoke runs are too short to
# judge a goal: they fail only when a bench crashes.
bench: $(STAMP) $(SPEC_NODE)
	@failed=""; for s in bench/bench_*.py; do echo "== $$s"; \
		$(BIN)/python $$s || failed="$$failed $$s"; done; \
	if [ -n "$$failed" ]; then echo "goals missed (or crashed):$$failed"; exit 1; fi

bench-smoke: $(STAMP) $(SPEC_NODE)
	@failed=""; for s in bench/bench_*.py; do echo "== $$s (smoke)"; \
		$(BIN)/python $$s --smoke || failed="$$failed $$s"; done; \
	if [ -n "$$failed" ]; then echo "crashed:$$failed"; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check wdp tests bench tools
	$(BIN)/ruff format --check wdp tests bench tools

clean:
	rm -rf $(VENV) .venv-autobahn build *.egg-info test-artifacts
