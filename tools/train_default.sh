#!/bin/sh
# The exact command that made wdp/inference/models/default.npz (the shipped weights).
# Simulates 900 scenarios of 15 s (seeds 0:900 of the `train` preset: fixed layout a,
# intel5300, one router, 0..4 people; cached under ~/.cache/wdp/datasets or
# $WDP_CACHE_DIR), trains with seed 0 and writes the model. Many short scenarios rather
# than few long ones: the windows of one scenario are much alike, and the model
# generalises with the number of scenarios, not of windows.
# Measured: 12 min 56 s wall on the 2-core VM (data 531 s, training 245 s; best epoch
# 13/15), while other jobs shared the cores.
# The same as:
#   wdp train --data train,seeds=0:900,duration=15 --out wdp/inference/models/default.npz --seed 0 --epochs 15 --jobs 2
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m wdp.inference.training \
    --data train,seeds=0:900,duration=15 --out wdp/inference/models/default.npz \
    --seed 0 --epochs 15 --jobs 2 "$@"
