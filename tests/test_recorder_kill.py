"""Crash safety: kill -9 a process that records at 1 kHz; the file opens and loses <= 1 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from wdp.recorder import format_summary, open_recording, summarize

RATE_HZ = 1000

# The child records frames stamped at exactly 1 kHz (timestamp i ms, sequence i, CSI a
# function of i), paced by the real clock, in small batches as a live capture would. It
# prints the running total *before* each append, so the count the parent last read is at
# least what had been handed to the recorder when it was killed: the loss measured
# against it can only be overstated.
CHILD = r"""
import sys, time
import numpy as np
from wdp.capture import FrameBatch
from wdp.recorder import Recorder, RouterInfo

RATE = int(sys.argv[2])

def batch(start, n):
    # n_tx cycles 1..3 every 250 frames and the subcarrier set changes every 400, so
    # shapes grow and new sets are committed while the writer runs
    i = np.arange(start, start + n, dtype=np.int64)
    n_tx = 1 + (i // 250) % 3
    csi = (i[:, None, None, None] + 1j * np.arange(90).reshape(1, 1, 3, 30)).repeat(3, axis=1)
    csi[np.arange(3)[None, :] >= n_tx[:, None]] = 0
    shape = np.stack([n_tx, np.full(n, 3), np.full(n, 30)], axis=1).astype(np.uint16)
    sub = (-28 - (i // 400) % 4)[:, None] + 2 * np.arange(30)[None, :]
    return FrameBatch(
        router_id="r1", environment_id="lab", hw_format="intel5300",
        timestamp_ns=i * (1_000_000_000 // RATE), host_time_ns=i + 7, sequence=i,
        csi=csi.astype(np.complex64), shape=shape, subcarriers=sub.astype(np.int16),
        rssi_dbm=np.full((n, 3), -40.0, np.float32),
        noise_floor_dbm=np.full(n, np.nan, np.float32),
        center_freq_mhz=np.full(n, 5180.0, np.float32),
        bandwidth_mhz=np.full(n, 20.0, np.float32),
    )

rec = Recorder(sys.argv[1], [RouterInfo("r1", "lab", "intel5300")], source="kill test")
print("ready", flush=True)
t0 = time.monotonic()
sent = 0
while True:
    due = int((time.monotonic() - t0) * RATE)
    if due > sent:
        print(due, flush=True)
        rec.append(batch(sent, due - sent))
        rec.append_raw_one("r1", b"datagram %d" % due, due)
        sent = due
    time.sleep(0.004)
"""


def _read_lines(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.strip())


@pytest.mark.parametrize("kill_after", [1.3, 2.05])
def test_kill_9_loses_at_most_one_second(tmp_path, kill_after):
    path = tmp_path / "killed.h5"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(RATE_HZ)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(child.stdout, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 8
        while "ready" not in lines:
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.02)
        started = time.monotonic()
        seen = []  # committed counts an SWMR reader saw while the writer ran
        while time.monotonic() - started < kill_after:
            with open_recording(path) as r:  # SWMR is on once the child said "ready"
                seen.append(r.frame_count("r1"))
                assert not r.closed_cleanly
                live = r.read_batch("r1")  # what a live reader gets is whole, too
                if live is not None:
                    check_prefix(live)
            time.sleep(0.1)
        assert child.poll() is None, child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    reader.join(timeout=5)
    assert child.returncode == -signal.SIGKILL
    assert seen and seen[-1] > 0 and seen == sorted(seen), seen  # the file grew, visibly

    reported = int(lines[-1])  # frames handed (or about to be handed) to the recorder
    with open_recording(path) as r:
        assert not r.closed_cleanly
        n = r.frame_count("r1")
        batch = r.read_batch("r1")
        raw = r.raw("r1")
    lost = reported - n
    print(
        f"\nkill after {kill_after} s: {reported} frames appended, {n} on disk, "
        f"lost {lost} = {lost / RATE_HZ:.3f} s"
    )
    assert 0 < n <= reported
    assert lost <= RATE_HZ  # at most 1 s of frames
    check_prefix(batch)
    assert len(batch) == n
    assert len(raw) > 0 and raw.record(len(raw) - 1).startswith(b"datagram ")
    text = format_summary(summarize(path))
    assert "closed cleanly: NO" in text and f"{n} frames" in text


def check_prefix(batch) -> None:
    """The batch is exactly the first frames the child wrote."""
    i = np.arange(len(batch))
    np.testing.assert_array_equal(batch.sequence, i)
    np.testing.assert_array_equal(batch.timestamp_ns, i * 1_000_000)
    np.testing.assert_array_equal(batch.csi[:, 0, 0, 0].real, i.astype(np.float32))
    np.testing.assert_array_equal(batch.csi[-1, 0, 2, :].imag, np.arange(60, 90))
    n_tx = 1 + (i // 250) % 3
    np.testing.assert_array_equal(batch.shape[:, 0], n_tx)
    assert not batch.csi[np.arange(batch.csi.shape[1])[None, :] >= n_tx[:, None]].any()
    want_sub = (-28 - (i // 400) % 4)[:, None] + 2 * np.arange(30)[None, :]
    np.testing.assert_array_equal(batch.subcarriers, want_sub)
