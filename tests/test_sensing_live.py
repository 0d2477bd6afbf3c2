"""The streaming sensing tier (``wdp.sensing.live``) against the offline functions it
rebuilds, on real captures: the same motion states and activity bit for bit, the same
falls (the motion course is relative to a different span, so a peak may move by a
sample or a few), decided within the documented latency."""

import attrs
import numpy as np
import pytest

from wdp.capture.formats import read_capture
from wdp.recorder import Recorder, RouterInfo
from wdp.sensing.detector import Detector, capture_motion
from wdp.sensing.features import capture_window_features, load_capture
from wdp.sensing.live import CONTEXT_S, SETTLE_S, LiveSensing, Outputs
from wdp.sensing.motion import MotionConfig, MotionDetector, stream_features
from wdp.sensing.stream import from_batch, load_batch

HAR11 = [
    "intel5300-har11/0510/falldown/abid_falldown1.dat",
    "intel5300-har11/0510/falldown/zyy_falldown4.dat",  # the peak moves by 0.25 s live
    "intel5300-har11/0510/walking/abid_walking1.dat",
]
NEXMON = [
    "nexmon-fition/falling_user1_rm1/falling_user1_rm1_1.pcap",
    "nexmon-fition/walking_user1_rm1/walking_user1_rm1_1.pcap",
]


def offline(path, det: Detector):
    """What the offline functions say about a whole capture (or recording)."""
    batch = load_batch(path)
    stream = from_batch(batch)
    motion = MotionDetector(None, MotionConfig())
    states = [motion.decide(f) for f in stream_features(stream.t_s, stream.amp, motion.config)]
    cap = load_capture(path, det.spec.rate_hz)
    starts = np.arange(0, max(0, cap.amp.shape[0] - det.spec.length + 1), det.spec.hop)
    feats = capture_window_features(cap, starts, det.spec)
    falls = det.fall_events(feats, capture_motion(cap.amp, det.spec.rate_hz))
    return batch, stream, states, det.activity.predict_proba(feats), falls


def streamed(batch, stream, det: Detector, *, chunks: bool = False) -> tuple[Outputs, list]:
    """The capture frame by frame through LiveSensing; every output and the frame time
    (s) at which it came out."""
    live = LiveSensing((stream.n_tx, stream.n_rx, stream.amp.shape[2]), detector=det)
    out, seen = Outputs(), []
    t0 = int(batch.timestamp_ns[0])
    for i in range(len(batch)):
        t, r, s = batch.shape[i]
        got = live.add(int(batch.timestamp_ns[i]), batch.csi[i, :t, :r, :s])
        seen += [((int(batch.timestamp_ns[i]) - t0) / 1e9, f) for f in got.falls]
        out = out + got
    return out + live.finish(), seen


@pytest.mark.parametrize(
    "name,profile", [(n, "intel5300") for n in HAR11] + [(n, "nexmon") for n in NEXMON]
)
def test_streaming_gives_what_the_offline_functions_give(real_data, name, profile):
    det = Detector.shipped(profile)
    batch, stream, states, probs, falls = offline(real_data / name, det)
    out, seen = streamed(batch, stream, det)
    assert [repr(s) for s in out.motion] == [repr(s) for s in states]
    assert np.array_equal(np.array([a.probabilities for a in out.activity]), probs)
    assert [a.label for a in out.activity] == [det.classes[k] for k in probs.argmax(axis=1)]
    assert len(out.falls) == len(falls)
    for live_fall, (t, _p) in zip(out.falls, falls, strict=True):
        assert abs(live_fall.peak_s - t) <= 0.5
        assert live_fall.probability >= det.rules.threshold
        assert live_fall.t_s >= live_fall.peak_s + SETTLE_S - 0.1  # decided after settling
    # falls decided before the end came out within the latency, at the frame that allowed it
    for at, f in seen:
        assert f.t_s - 0.2 <= at <= f.peak_s + SETTLE_S + 0.5


def test_a_long_stream_gives_the_offline_falls(real_data, tmp_path):
    """Four har11 falls one after another (60 s, longer than the 20 s the stream keeps)."""
    det = Detector.shipped("intel5300")
    path = tmp_path / "four_falls.h5"
    t = 0
    with Recorder(path, [RouterInfo("r1", "e", "intel5300")]) as rec:
        for name in sorted((real_data / HAR11[0]).parent.glob("*.dat"))[:4]:
            frames = list(read_capture(name).batch.frames())
            shift = t - frames[0].timestamp_ns
            for f in frames:
                rec.append_frame(
                    attrs.evolve(
                        f, timestamp_ns=f.timestamp_ns + shift, router_id="r1", environment_id="e"
                    )
                )
            t = frames[-1].timestamp_ns + shift + 50_000_000
    batch, stream, states, probs, falls = offline(path, det)
    out, seen = streamed(batch, stream, det)
    assert stream.duration_s > 3 * CONTEXT_S
    assert [repr(s) for s in out.motion] == [repr(s) for s in states]
    assert np.array_equal(np.array([a.probabilities for a in out.activity]), probs)
    assert len(falls) >= 3 and len(out.falls) == len(falls) and len(seen) == len(falls)
    for live_fall, (t, _p) in zip(out.falls, falls, strict=True):
        assert abs(live_fall.peak_s - t) <= 0.5


def test_falldown_capture_has_its_fall_found_live(real_data):
    det = Detector.shipped("intel5300")
    batch, stream, *_ = offline(real_data / HAR11[0], det)
    out, seen = streamed(batch, stream, det)
    assert len(out.falls) == 1 and len(seen) == 1  # found before the capture ended
    assert out.falls[0].probability >= det.rules.threshold


def test_two_runs_give_identical_outputs(real_data):
    det = Detector.shipped("nexmon")
    batch, stream, *_ = offline(real_data / NEXMON[0], det)
    a, _ = streamed(batch, stream, det)
    b, _ = streamed(batch, stream, det)
    assert repr(a) == repr(b)


def test_frames_of_another_layout_are_counted_and_left_out():
    live = LiveSensing((1, 3, 30))
    csi = np.ones((1, 3, 30), np.complex64)
    live.add(0, csi)
    live.add(50_000_000, np.ones((1, 2, 30), np.complex64))
    live.add(100_000_000, np.ones((2, 3, 30), np.complex64))  # more tx: keeps the first
    assert (live.frames, live.dropped) == (2, 1)


def test_without_a_detector_only_motion_is_judged():
    rng = np.random.default_rng(0)
    live = LiveSensing((1, 1, 64))
    out = Outputs()
    for i in range(400):  # 20 s at 20 Hz of a quiet link
        csi = (10 + 0.01 * rng.standard_normal((1, 1, 64))).astype(np.complex64)
        out = out + live.add(i * 50_000_000, csi)
    out = out + live.finish()
    assert out.motion and not out.activity and not out.falls
    assert {s.state for s in out.motion} == {"calibrating"}  # 30 s are needed
