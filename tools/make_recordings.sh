#!/usr/bin/env bash
# Regenerate the bundled simulated recordings in recordings/ and their SHA256SUMS.
# Same wdp, same scenario, seed and profile -> the same CSI bytes (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
wdp="${WDP:-.venv/bin/wdp}"
make_one() {  # name scenario profile seconds seed
    rm -f "recordings/$1.h5"
    "$wdp" simulate --scenario "$2" --profile "$3" --seconds "$4" --seed "$5" \
        --environment-id "$2" --quiet --out "recordings/$1.h5"
}
make_one one_walker_intel5300 one_walker intel5300 10 1
make_one fall_and_recover_esp32 fall_and_recover esp32 30 1
make_one enter_and_leave_esp32 enter_and_leave esp32 30 1
make_one two_crossing_nexmon two_crossing nexmon 10 1
(cd recordings && sha256sum ./*.h5 > SHA256SUMS)
du -ch recordings/*.h5 | tail -1
