#!/bin/sh
# The exact command that made wdp/inference/models/nexmon.npz (the shipped nexmon weights).
# Simulates 120 scenarios of 45 s (seeds 0:120 of the `train` preset: fixed layout a,
# nexmon profile, one router, 0..4 people; cached under ~/.cache/wdp/datasets or
# $WDP_CACHE_DIR), trains with seed 0 and writes the model. Fewer scenarios than
# default.npz's 300 to keep the wall time reasonable on the 2-core VM.
# Measured: 3 min 34 s wall on the 2-core VM (data 121 s, training 92 s; best epoch 1/20).
# The same as:
#   wdp train --data train,seeds=0:120,duration=45,profile=nexmon --out wdp/inference/models/nexmon.npz --seed 0 --epochs 20 --jobs 2
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m wdp.inference.training \
    --data train,seeds=0:120,duration=45,profile=nexmon --out wdp/inference/models/nexmon.npz \
    --seed 0 --epochs 20 --jobs 2 "$@"
