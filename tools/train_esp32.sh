#!/bin/sh
# The exact command that made wdp/inference/models/esp32.npz (the shipped esp32 weights).
# Simulates 120 scenarios of 45 s (seeds 0:120 of the `train` preset: fixed layout a,
# esp32 profile, one router, 0..4 people; cached under ~/.cache/wdp/datasets or
# $WDP_CACHE_DIR), trains with seed 0 and writes the model. Fewer scenarios than
# default.npz's 300 to keep the wall time reasonable on the 2-core VM.
# Measured: 2 min 51 s wall on the 2-core VM (data 70 s, training 100 s; best epoch 3/20).
# The same as:
#   wdp train --data train,seeds=0:120,duration=45,profile=esp32 --out wdp/inference/models/esp32.npz --seed 0 --epochs 20 --jobs 2
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m wdp.inference.training \
    --data train,seeds=0:120,duration=45,profile=esp32 --out wdp/inference/models/esp32.npz \
    --seed 0 --epochs 20 --jobs 2 "$@"
