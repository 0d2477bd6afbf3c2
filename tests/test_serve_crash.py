"""Crash safety of ``wdp serve`` itself: a real process recording a real UDP stream.

kill -9 while it records: the session file opens with h5py (and Debian's h5dump) and
holds every frame but at most the last second's. SIGTERM: the file is closed cleanly
(its marker says so) and holds every frame that arrived.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import h5py
import pytest
from app_server import free_udp_port, intel5300_datagrams, serve_process

from wdp.recorder import open_recording

RATE_HZ = 100


def send(udp_port, packets, seconds):
    """Send packets at RATE_HZ for ``seconds``; how many were sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.monotonic()
        for i, data in enumerate(packets[: int(seconds * RATE_HZ)]):
            sock.sendto(data, ("127.0.0.1", udp_port))
            time.sleep(max(0.0, start + (i + 1) / RATE_HZ - time.monotonic()))
        return i + 1


def session_file(tmp_path):
    (path,) = sorted((tmp_path / "sessions").glob("*.h5"))
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_or_stopped_server_keeps_its_recording(tmp_path, sig):
    udp_port = free_udp_port()
    packets = intel5300_datagrams(3.0)
    server, _, _ = serve_process(
        tmp_path,
        f'[environments.lab.routers.r1]\nsource = "udp://127.0.0.1:{udp_port}?format=intel5300"',
    )
    try:
        sent = send(udp_port, packets, 2.5)
        os.kill(server.pid, sig)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    path = session_file(tmp_path)
    # plain h5py opens it; after a crash the writer's mark is still set, so with swmr=True
    # (README, "Reading without wdp")
    with h5py.File(path, "r", swmr=sig == signal.SIGKILL) as f:
        assert f["routers/r1/timestamp_ns"].shape[0] > 0
    if shutil.which("h5dump") and shutil.which("h5clear"):
        copy = tmp_path / "copy.h5"
        shutil.copy(path, copy)
        if sig == signal.SIGKILL:  # h5dump wants the mark cleared first (h5clear -s)
            subprocess.run(["h5clear", "-s", str(copy)], check=True, capture_output=True)
        dump = subprocess.run(["h5dump", "-H", str(copy)], capture_output=True, check=False)
        assert dump.returncode == 0, dump.stderr[-500:]
    elif os.environ.get("CI"):
        pytest.fail("h5dump/h5clear (Debian's hdf5-tools) missing; .ci/run installs them")
    with open_recording(path) as rec:
        recorded = rec.frame_count("r1")
        clean = rec.closed_cleanly
    lost = sent - recorded
    print(f"\n{signal.Signals(sig).name}: {sent} sent, {recorded} recorded, lost {lost}")
    if sig == signal.SIGKILL:
        assert server.returncode == -signal.SIGKILL
        assert not clean
        assert 0 <= lost <= RATE_HZ  # at most one second of frames
    else:
        assert server.returncode == 0
        assert clean
        assert 0 <= lost <= 2  # every frame that had arrived (one may be in flight)
