#!/bin/sh
# The exact command that made wdp/inference/models/default.npz (the shipped weights).
# Simulates the `train` data set (300 scenarios of 45 s, fixed layout a, intel5300, one
# router, 0..4 people; cached under ~/.cache/wdp/datasets or $WDP_CACHE_DIR), trains
# with seed 0 and writes the model. Measured: 11 min 13 s wall on the 2-core VM (data 6 min,
# training 5 min), while other jobs shared the cores.
# The same as:
#   wdp train --data train --out wdp/inference/models/default.npz --seed 0 --epochs 20 --jobs 2
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m wdp.inference.training \
    --data train --out wdp/inference/models/default.npz --seed 0 --epochs 20 --jobs 2 "$@"
