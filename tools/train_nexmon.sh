#!/bin/sh
# The exact command that made wdp/inference/models/nexmon.npz (the shipped nexmon weights).
# Simulates 360 scenarios of 15 s (seeds 0:360 of the `train` preset: fixed layout a,
# nexmon profile, one router, 0..4 people; cached under ~/.cache/wdp/datasets or
# $WDP_CACHE_DIR), trains with seed 0 and writes the model. Fewer scenarios than
# default.npz's 900 to keep the wall time reasonable on the 2-core VM.
# Measured: 8 min 2 s wall on the 2-core VM run with --jobs 1 while other jobs shared the
# cores (data 223 s, training 257 s; best epoch 3/15).
# The same as:
#   wdp train --data train,seeds=0:360,duration=15,profile=nexmon --out wdp/inference/models/nexmon.npz --seed 0 --epochs 15 --jobs 2
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m wdp.inference.training \
    --data train,seeds=0:360,duration=15,profile=nexmon --out wdp/inference/models/nexmon.npz \
    --seed 0 --epochs 15 --jobs 2 "$@"
