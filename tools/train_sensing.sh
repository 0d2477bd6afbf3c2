#!/bin/sh
# The exact commands that made the shipped activity and fall detectors
# wdp/sensing/models/intel5300.npz and wdp/sensing/models/nexmon.npz, from the labelled
# real captures in ../shared/real-data (never copied into this repository):
#   intel5300: intel5300-har11 (11 activities incl. falls, 5 subjects, one room);
#   nexmon:    nexmon-fition (6 classes incl. falls, users 1 and 2, one room).
# intel5300-wiar (16 arm/body activities of one person, no falls) is not trained on:
# bench/bench_real.py runs the intel5300 detector over it as a room and person it never
# saw (false alarms per hour) and reports its own leave-one-out activity figures.
# Features are cached under .wdp/cache/sensing. Seed 0; about 1 min per profile on the
# 2-core VM with a warm cache.
set -eu
cd "$(dirname "$0")/.."
DATA="${WDP_REAL_DATA:-../shared/real-data}"
.venv/bin/wdp train --labels "$DATA/intel5300-har11" --profile intel5300 \
    --out wdp/sensing/models/intel5300.npz --seed 0 --quiet "$@"
.venv/bin/wdp train --labels "$DATA/nexmon-fition" --profile nexmon \
    --out wdp/sensing/models/nexmon.npz --seed 0 --quiet "$@"
