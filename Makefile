# Two commands a fresh clone needs: `make run` and `make test`.
# Every target bootstraps .venv idempotently (re-installs only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-smoke lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/wdp serve

SPEC_NODE := tests/spec_clients/node_modules/.installed

# The spec's JavaScript client runs under Node with the `ws` package (skipped without npm).
$(SPEC_NODE): tests/spec_clients/package.json
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/spec_clients --no-package-lock --no-audit --no-fund --silent \
		&& touch $(SPEC_NODE); \
	else echo "npm not found: the JavaScript spec-client test will be skipped"; fi

BROWSER_NODE := tests/browser/node_modules/.installed
CHROMIUM := /usr/bin/chromium

# The dashboard's browser test: playwright-core (a driver only, it downloads no browser)
# and Debian's Chromium (installed with apt-get when missing and we are root; the test
# skips without it, or fails when CI is set).
$(BROWSER_NODE): tests/browser/package.json
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/browser --no-package-lock --no-audit --no-fund --silent \
		&& touch $(BROWSER_NODE); \
	else echo "npm not found: the dashboard browser test will be skipped"; fi

$(CHROMIUM):
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			>/dev/null || echo "could not install chromium: the dashboard browser test will not run"; \
	else echo "no $(CHROMIUM) (install Debian's chromium): the dashboard browser test will not run"; fi

# Autobahn|Testsuite (Python 2.7, from pyenv when present) for the conformance test.
AUTOBAHN := .venv-autobahn/bin/wstest

$(AUTOBAHN):
	tools/install_autobahn.sh || echo "could not install the Autobahn testsuite: its test will fail"

test: $(STAMP) $(SPEC_NODE) $(BROWSER_NODE) $(CHROMIUM) $(AUTOBAHN)
	$(BIN)/python -m pytest -q

bench: $(STAMP) $(SPEC_NODE)
	@for s in bench/bench_*.py; do echo "== $$s"; $(BIN)/python $$s || exit 1; done

bench-smoke: $(STAMP) $(SPEC_NODE)
	@for s in bench/bench_*.py; do echo "== $$s (smoke)"; $(BIN)/python $$s --smoke || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check wdp tests bench tools
	$(BIN)/ruff format --check wdp tests bench tools

clean:
	rm -rf $(VENV) .venv-autobahn build *.egg-info test-artifacts
