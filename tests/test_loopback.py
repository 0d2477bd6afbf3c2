"""Real captures replayed as UDP datagrams into live capture and recorded: the recorded
frames equal the imported ones (acceptance: live capture and import agree)."""

import attrs
import pytest
import trio

from wdp.capture import sort_key
from wdp.capture.formats import make_parser, read_capture
from wdp.capture.record import record_source
from wdp.capture.source import UdpSource
from wdp.recorder import open_recording

CASES = [
    ("intel5300_inject_3x1_1khz.dat", "intel5300", False),
    ("intel5300_log.all_csi.6.7.6.dat", "intel5300", False),
    ("atheros_ar93xx_3x2_56sc.dat", "atheros", False),
    ("esp32_csitool_passive_ch8.csv", "esp32", False),
    # nexmon payloads carry no clock: live frames are stamped with the host receive time
    ("nexmon_bcm43455c0_rpi_80mhz.pcap", "nexmon", True),
]


def _comparable(frame, host_clock: bool):
    frame = attrs.evolve(frame, host_time_ns=0)
    return attrs.evolve(frame, timestamp_ns=0) if host_clock else frame


@pytest.mark.parametrize("name, fmt, host_clock", CASES)
async def test_udp_replay_of_real_capture_records_what_import_reads(
    samples, tmp_path, name, fmt, host_clock
):
    imported = read_capture(samples / name, router_id="r1", environment_id="lab")
    datagrams = [imported.raw.record(i) for i in range(len(imported.raw))]
    source = UdpSource("127.0.0.1", 0, fmt, "r1", "lab", silence_timeout_s=60)
    parser = make_parser(fmt, "r1", "lab")
    out = tmp_path / "live.h5"
    stop = trio.Event()
    reports = []

    async def record(task_status=trio.TASK_STATUS_IGNORED):
        reports.append(
            await record_source(
                source,
                out,
                progress=False,
                handle_signals=False,
                stop=stop,
                parser=parser,
                task_status=task_status,
            )
        )

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            host, port = await nursery.start(record)
            with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as tx:
                for i, datagram in enumerate(datagrams):
                    await tx.sendto(datagram, (host, port))
                    if i % 32 == 31:  # let the receiver drain: loopback drops on overflow
                        while parser.stats.packets < i + 1:
                            await trio.sleep(0.001)
            while parser.stats.packets < len(datagrams):
                await trio.sleep(0.005)
            stop.set()

    (report,) = reports
    assert report.datagrams == len(datagrams)
    assert report.frames == imported.frames
    expected = sorted(imported.batch.frames(), key=sort_key)
    with open_recording(out) as rec:
        got = list(rec.frames())
        raw = rec.raw("r1")
        assert rec.closed_cleanly
    assert len(got) == len(expected)
    if host_clock:  # stamped on arrival, so the recording's order is the file's
        expected = list(imported.batch.frames())
    for a, b in zip(expected, got, strict=True):
        assert _comparable(a, host_clock).same_as(_comparable(b, host_clock))
    assert [raw.record(i) for i in range(len(raw))] == datagrams
