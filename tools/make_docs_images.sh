#!/usr/bin/env bash
# The README's pictures: docs/inspect.png (`wdp inspect --plot` of a bundled recording)
# and docs/dashboard.png (the dashboard in headless Chromium, served by
# `wdp replay --serve` from a simulation of the demo room, seed 1, 45 s in, or at the
# first fall alert if the pipeline reports one before). Needs what `make test` installs: matplotlib,
# Debian's chromium and tests/browser's playwright-core. Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p docs
"$BIN/wdp" inspect recordings/one_walker_intel5300.h5 --plot docs/inspect.png

work=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=${WDP_DOCS_PORT:-8765}
"$BIN/wdp" simulate --scenario demo_room --seed 1 --seconds 60 --quiet --out "$work/demo.h5"
WDP_STATE_DIR="\"$work/state\"" WDP_RECORDING__DIRECTORY="\"$work/sessions\"" \
    "$BIN/wdp" replay "$work/demo.h5" --serve --speed 1.0 --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
    url=$(sed -n 's/^dashboard: //p' "$work/serve.log" 2>/dev/null || true)
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.5
done
[ -n "$url" ] || { echo "wdp serve printed no dashboard address" >&2; exit 1; }
node tests/browser/screenshot.mjs "$url" docs/dashboard.png 45
