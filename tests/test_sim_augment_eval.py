"""tools/sim_augment_eval.py: its simulated captures have har11's shape and labels, and
the simulator's own intel5300 profile is left as it was."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from wdp.sensing.features import load_capture
from wdp.sim import profiles

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "sim_augment_eval", ROOT / "tools" / "sim_augment_eval.py"
)
sim_augment_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim_augment_eval)


@pytest.mark.parametrize("matched", [False, True])
def test_captures_are_har11_shaped(tmp_path, matched):
    before = profiles.PROFILES["intel5300"]
    entries = sim_augment_eval.make_captures(tmp_path, 1, seed=3, matched=matched)
    assert profiles.PROFILES["intel5300"] is before
    assert [e.label for e in entries] == list(sim_augment_eval.SIM_CLASSES)
    assert {e.group for e in entries} == {"sim"}
    for e in entries:
        cap = load_capture(e.path, 20.0, e.start_s, e.end_s)
        assert cap.amp.shape[1] == 90  # 1 tx x 3 rx x 30 subcarriers
        assert cap.phasor is not None and cap.phasor.shape[1] == 90  # 3 chain pairs x 30
        want = sim_augment_eval.STILL_S if e.label in ("lying", "sitting") else 16.0
        assert abs(cap.duration_s - want) < 0.2
    again = sim_augment_eval.make_captures(tmp_path, 1, seed=3, matched=matched)
    assert [(e.path, e.start_s) for e in again] == [(e.path, e.start_s) for e in entries]


def test_har11_profile():
    p = sim_augment_eval.har11_profile()
    assert (p.n_tx, p.n_rx, p.n_sub, p.bandwidth_mhz) == (1, 3, 30, 20.0)
    assert np.array_equal(p.subcarriers, np.sort(p.subcarriers))
    m = sim_augment_eval.har11_profile(matched=True)
    assert (m.snr_db, m.agc_sigma_db) == (
        sim_augment_eval.MATCHED_SNR_DB,
        sim_augment_eval.MATCHED_AGC_DB,
    )
