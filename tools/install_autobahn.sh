#!/bin/sh
# Installs the Autobahn|Testsuite fuzzing client (wstest, Python 2.7 only) into
# .venv-autobahn/ for tests/test_autobahn.py, from PyPI. Python 2.7 is looked for in
# pyenv's versions ($PYENV_ROOT, `pyenv root`, ~/.pyenv) and as python2.7 or python2 on
# PATH (Debian ships none). Exits 0 with nothing done when wstest is already there; exits
# 1, saying why, when no Python 2.7 is found or the install fails (the test then skips,
# or fails when CI is set).
set -eu
cd "$(dirname "$0")/.."
[ -x .venv-autobahn/bin/wstest ] && exit 0
PY2=""
ROOTS="${PYENV_ROOT:-} $(pyenv root 2>/dev/null || true) ${HOME:-/root}/.pyenv"
for candidate in $(for r in $ROOTS; do ls -d "$r"/versions/2.7*/bin/python2.7 2>/dev/null; done) \
    python2.7 python2; do
    if "$candidate" -c "import sys; assert sys.version_info[:2] == (2, 7)" >/dev/null 2>&1; then
        PY2="$candidate"
        break
    fi
done
if [ -z "$PY2" ]; then
    echo "install_autobahn: no Python 2.7 found (pyenv or python2.7 on PATH)" >&2
    exit 1
fi
"$PY2" -m pip install -q --disable-pip-version-check "virtualenv<20.22" >/dev/null 2>&1
rm -rf .venv-autobahn
"$PY2" -m virtualenv -q .venv-autobahn >/dev/null
.venv-autobahn/bin/pip install -q --disable-pip-version-check "autobahntestsuite==0.8.2" >/dev/null 2>&1
.venv-autobahn/bin/wstest --autobahnversion >/dev/null 2>&1
