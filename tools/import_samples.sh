#!/usr/bin/env bash
# Import every real capture in the samples folder into recordings/samples/ and inspect it.
# Used by `make run` until `wdp serve` exists.
set -euo pipefail
samples="${1:-../shared/csi-samples}"
wdp="${WDP:-.venv/bin/wdp}"
if [ ! -d "$samples" ]; then
    echo "no real captures at $samples: nothing to import (pass a folder as the first argument)"
    exit 0
fi
mkdir -p recordings/samples
for f in "$samples"/*.dat "$samples"/*.pcap "$samples"/*.csv; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    out="recordings/samples/${name%.*}.h5"
    rm -f "$out"
    router=$(echo "${name%%_*}" | tr -cd 'A-Za-z0-9._-')
    "$wdp" import "$f" --quiet --router-id "$router" --environment-id samples --out "$out"
    "$wdp" inspect "$out"
    echo
done
