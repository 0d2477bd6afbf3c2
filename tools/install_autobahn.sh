#!/bin/sh
# Installs the Autobahn|Testsuite fuzzing client (wstest, Python 2.7 only) into
# .venv-autobahn/ for tests/test_autobahn.py. Prints nothing and exits 0 when no
# Python 2.7 is found (the test then skips, saying so).
set -eu
cd "$(dirname "$0")/.."
[ -x .venv-autobahn/bin/wstest ] && exit 0
PY2=""
for candidate in "$(pyenv root 2>/dev/null)"/versions/2.7*/bin/python2.7 python2.7; do
    if "$candidate" -c "import sys; assert sys.version_info[0] == 2" >/dev/null 2>&1; then
        PY2="$candidate"
        break
    fi
done
[ -n "$PY2" ] || exit 0
"$PY2" -m pip install -q --disable-pip-version-check "virtualenv<20.22" >/dev/null 2>&1
rm -rf .venv-autobahn
"$PY2" -m virtualenv -q .venv-autobahn >/dev/null
.venv-autobahn/bin/pip install -q --disable-pip-version-check "autobahntestsuite==0.8.2" >/dev/null 2>&1
.venv-autobahn/bin/wstest --autobahnversion >/dev/null
