"""The tier an environment runs, chosen from its frames and said once: the pose model
where the links fit it, else the sensing tier (motion, presence, activity and falls) in
``wdp replay``, ``wdp inspect`` and ``wdp serve``; the routers' ``detector`` and
``calibration`` keys."""

import functools
import hashlib
import json

import numpy as np
import orjson
import pytest
import trio
import trio_websocket
from app_server import app_config, http_get, token_for
from test_pipeline_events import SPEC_EXAMPLES, assert_shape

from wdp.app import serve
from wdp.capture.frame import CsiFrame
from wdp.cli import main
from wdp.config import ConfigError, load_config
from wdp.inference.features import FeatureSpec
from wdp.pipeline.replay import camera_of
from wdp.pipeline.tier import Link, choose, pose_refusal
from wdp.pipeline.tiered import TieredRunner
from wdp.sensing.calibration import calibrate_stream, save
from wdp.sensing.detector import MODELS_DIR
from wdp.sensing.stream import load_stream

FALLDOWN = "intel5300-har11/0510/falldown/abid_falldown1.dat"
NEXMON_FALL = "nexmon-fition/falling_user1_rm1/falling_user1_rm1_1.pcap"
HAR11_NOTE = (
    "router router_001: 1x3 at 20 Hz: the pose model needs 3x3 at >= 50 Hz; "
    "presence, motion, activity and falls only"
)
SPEC = FeatureSpec.for_profile("intel5300")


# --- the choice ------------------------------------------------------------------------


def test_a_link_that_fits_the_pose_model_runs_the_pose_tier():
    assert pose_refusal(Link("r1", "intel5300", 3, 3, 30, 100.0), SPEC) is None
    assert choose([Link("r1", "intel5300", 3, 3, 30, 100.0)], SPEC, True).pose


@pytest.mark.parametrize(
    "link,why",
    [
        (Link("r1", "intel5300", 1, 3, 30, 20.0), "the pose model needs 3x3 at >= 50 Hz"),
        (Link("r1", "intel5300", 3, 3, 30, 40.0), "the pose model needs 3x3 at >= 50 Hz"),
        (Link("r1", "intel5300", 3, 3, 56, 100.0), "56 subcarriers: the pose model needs 30"),
        (Link("r1", "atheros", 3, 3, 56, 100.0), "the pose model is for intel5300 hardware"),
    ],
)
def test_a_link_the_pose_model_cannot_use_says_why(link, why):
    assert why in pose_refusal(link, SPEC)


def test_every_router_of_a_sensing_environment_gets_its_line():
    links = [Link("a", "intel5300", 3, 3, 30, 100.0), Link("b", "intel5300", 1, 3, 30, 20.0)]
    choice = choose(links, SPEC, False)
    assert not choice.pose
    assert choice.message("b") == (
        "router b: 1x3 at 20 Hz: the pose model needs 3x3 at >= 50 Hz; presence and motion only"
    )
    assert "another router of its environment" in choice.message("a")
    no_model = choose([Link("r", "atheros", 1, 3, 56, 50.0)], None, False)
    assert no_model.reason("r") == "1x3 at 50 Hz: no pose model for atheros hardware"


def _frames(n, rate_hz, shape=(1, 3, 30), router="r1", seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        csi = (10 + 0.01 * rng.standard_normal(shape)).astype(np.complex64)
        out.append(
            CsiFrame(
                int(i * 1e9 / rate_hz),
                0,
                router,
                "e",
                i,
                csi,
                np.arange(shape[2]),
                np.zeros(shape[1]),
                np.nan,
                5300.0,
                20.0,
                "atheros",
            )
        )
    return out


def test_the_tier_waits_for_two_seconds_of_frames_and_warns_once_per_router():
    runner = TieredRunner("e", ["r1"], None, camera_of(None))
    frames = _frames(200, 20.0)  # 10 s of a quiet 1x3 link at 20 Hz, no pose model
    runner.add(frames[:30])
    assert runner.choice is None and runner.advance() == []
    events = []
    for i in range(30, 200, 10):
        runner.add(frames[i : i + 10])
        events += runner.advance()
    events += runner.finish()
    warnings = [e for e in events if e.TYPE == "hardware_event"]
    assert [(w.event, w.router_id, w.severity) for w in warnings] == [
        ("sensing_tier", "r1", "warning")
    ]
    assert warnings[0].message == (
        "router r1: 1x3 at 20 Hz: no pose model for atheros hardware; presence and motion only"
    )
    poses = [e.to_message()["data"] for e in events if e.TYPE == "pose_data"]
    assert len(poses) >= 15
    for p in poses:
        md = p["metadata"]
        assert (md["tier"], md["pose_available"], p["persons"]) == ("sensing", False, [])
        assert md["reason"] == "1x3 at 20 Hz: no pose model for atheros hardware"
        assert md["motion"] == "calibrating" and md["presence"] is None
        assert md["motion_reason"].startswith("calibrating the quiet room")
    stamps = [e.timestamp_ns for e in events if e.TYPE == "pose_data"]
    assert all(b - a == 500_000_000 for a, b in zip(stamps, stamps[1:], strict=False))


def test_two_routers_each_warn_once_and_windows_wait_for_both():
    runner = TieredRunner("e", ["a", "b"], None, camera_of(None))
    a, b = _frames(100, 20.0, router="a"), _frames(100, 20.0, router="b", seed=1)
    runner.add(a)  # 5 s of router a, nothing of b yet: no choice, no window
    assert runner.advance() == [] and runner.choice is None
    runner.add(b[:60])
    events = runner.advance()
    assert [e.router_id for e in events if e.TYPE == "hardware_event"] == ["a", "b"]
    stamps = [e.timestamp_ns for e in events if e.TYPE == "pose_data"]
    assert stamps and max(stamps) < b[59].timestamp_ns  # only windows both routers passed
    events = runner.advance() + runner.finish()
    assert not [e for e in events if e.TYPE == "hardware_event"]


def test_a_window_the_pose_model_refuses_says_why():
    from wdp.pipeline.environment import EnvironmentPipeline
    from wdp.pipeline.observations import Window
    from wdp.pipeline.runner import low_quality_reason

    pipeline = EnvironmentPipeline("e", camera_of(None))
    why = low_quality_reason(0.1)
    assert why.startswith("CSI quality 0.10 is below 0.5")
    frame = pipeline.step(Window(1, "e", (), 0.1, "m", pose_refusal=why))[0]
    md = frame.to_message()["data"]["metadata"]
    assert (md["tier"], md["pose_available"], md["reason"]) == ("pose", False, why)
    ok = pipeline.step(Window(2, "e", (), 1.0, "m"))[0].to_message()["data"]["metadata"]
    assert (ok["pose_available"], ok["reason"], ok["motion"]) == (True, None, None)


# --- wdp replay and wdp inspect of real captures -------------------------------------


def _import(real_data, name, out):
    assert main(["import", str(real_data / name), "--out", str(out), "--quiet"]) == 0
    return out


def _lines(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_replay_of_a_har11_fall_says_the_tier_and_finds_the_fall(real_data, tmp_path, capsys):
    rec = _import(real_data, FALLDOWN, tmp_path / "fall.h5")
    capsys.readouterr()
    assert main(["inspect", str(rec)]) == 0
    assert f"  tier: {HAR11_NOTE}" in capsys.readouterr().out.splitlines()
    emitted = tmp_path / "events.jsonl"
    assert main(["replay", str(rec), "--emit", str(emitted), "--quiet"]) == 0
    assert f"tier: {HAR11_NOTE}" in capsys.readouterr().out.splitlines()
    messages = _lines(emitted)
    warnings = [m for m in messages if m["type"] == "hardware_event"]
    assert [w["data"]["message"] for w in warnings] == [HAR11_NOTE]
    poses = [m for m in messages if m["type"] == "pose_data"]
    assert poses and all(p["data"]["metadata"]["pose_available"] is False for p in poses)
    falls = [m for m in messages if m["type"] == "activity_event"]
    assert [f["data"]["event_type"] for f in falls] == ["fall_detected"]
    spec = json.loads(SPEC_EXAMPLES["activity_event"])
    assert_shape(falls[0], spec, "activity_event")
    assert falls[0]["data"]["details"]["fall_duration"] is None  # no posture to time it


def test_replay_takes_the_routers_calibration_from_config(real_data, tmp_path, capsys):
    rec = _import(real_data, FALLDOWN, tmp_path / "fall.h5")
    cal = tmp_path / "quiet.json"
    save(calibrate_stream(load_stream(real_data / FALLDOWN).between(0, 5)), cal)
    toml = tmp_path / "wdp.toml"
    toml.write_text(
        '[environments.room_001.routers.router_001]\nsource = "replay:fall.h5"\n'
        f'calibration = "{cal}"\n'
    )
    out = tmp_path / "events.jsonl"
    assert main(["replay", str(rec), "--emit", str(out), "--config", str(toml), "--quiet"]) == 0
    poses = [m["data"] for m in _lines(out) if m["type"] == "pose_data"]
    assert {p["metadata"]["motion"] for p in poses} <= {"empty", "moving", "still"}
    assert poses[0]["metadata"]["presence"] is False and poses[0]["persons"] == []
    present = [p for p in poses if p["metadata"]["presence"]]
    assert present and all(len(p["persons"]) == 1 for p in present)
    missing = tmp_path / "bad.toml"
    missing.write_text(toml.read_text().replace(str(cal), str(tmp_path / "none.json")))
    assert main(["replay", str(rec), "--config", str(missing), "--quiet"]) == 1
    assert "calibration: " in capsys.readouterr().err  # the config's one-line error


def test_replay_of_a_nexmon_fall_twice_gives_the_same_bytes(real_data, tmp_path, capsys):
    rec = _import(real_data, NEXMON_FALL, tmp_path / "nexmon.h5")
    digests = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.jsonl"
        assert main(["replay", str(rec), "--emit", str(out), "--quiet"]) == 0
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    printed = capsys.readouterr().out
    assert "1x1 at 48.8 Hz: the pose model needs 1x1 at >= 50 Hz" in printed
    assert digests[0] == digests[1]
    messages = _lines(tmp_path / "a.jsonl")
    assert [m["data"]["event_type"] for m in messages if m["type"] == "activity_event"] == [
        "fall_detected"
    ]
    models = {m["data"]["metadata"]["model_version"] for m in messages if m["type"] == "pose_data"}
    assert models == {"sensing-nexmon"}


def test_replay_of_the_bundled_simulated_recordings_stays_on_the_pose_tier(capsys):
    from pathlib import Path

    rec = Path(__file__).resolve().parents[1] / "recordings" / "one_walker_intel5300.h5"
    assert main(["inspect", str(rec)]) == 0
    out = capsys.readouterr().out
    assert "  tier: router r1: 3x3 at 100 Hz: pose tier (the intel5300 pose model fits)" in out


ESPECTRE_MOVEMENT = "esp32-espectre/movement/movement_c3_64sc_20260329_130321.npz"
ESPECTRE_QUIET = "esp32-espectre/baseline/baseline_c3_64sc_20260329_130303.npz"
ESP32_NOTE = "1x1 at 102.1 Hz: real hardware: the pose model is trained on simulated CSI"


def test_a_real_link_that_fits_still_gets_the_sensing_tier():
    link = Link("r1", "intel5300", 3, 3, 30, 100.0)
    assert "real hardware" in pose_refusal(link, SPEC, trusted=False)
    # the layout's own reason comes first when that already refuses it
    assert "needs 3x3" in pose_refusal(Link("r1", "intel5300", 1, 3, 30, 20.0), SPEC, False)
    assert not choose([link], SPEC, True, pose_trusted=False).pose


def test_replay_of_a_real_esp32_capture_that_fits_the_layout(real_data, tmp_path, capsys):
    """An ESP32 1x1 x 64 at ~100 Hz has the esp32 pose model's layout, but it is real:
    the sensing tier, unless the config trusts the pose model with real hardware."""
    rec = _import(real_data, ESPECTRE_MOVEMENT, tmp_path / "esp.h5")
    out = tmp_path / "events.jsonl"
    assert main(["replay", str(rec), "--emit", str(out), "--quiet"]) == 0
    assert ESP32_NOTE in capsys.readouterr().out
    poses = [m["data"] for m in _lines(out) if m["type"] == "pose_data"]
    assert poses and {p["metadata"]["tier"] for p in poses} == {"sensing"}
    # no calibration file, 10 s of CSI: judged against the shipped ESP32 quiet level
    present = [p["metadata"]["presence"] for p in poses]
    assert sum(present) >= 0.9 * len(present)
    quiet = _import(real_data, ESPECTRE_QUIET, tmp_path / "quiet.h5")
    assert main(["replay", str(quiet), "--emit", str(tmp_path / "q.jsonl"), "--quiet"]) == 0
    qposes = [m["data"] for m in _lines(tmp_path / "q.jsonl") if m["type"] == "pose_data"]
    assert qposes and not any(p["metadata"]["presence"] for p in qposes)
    capsys.readouterr()
    toml = tmp_path / "wdp.toml"
    toml.write_text("[detection]\npose_on_real_hardware = true\n")
    out = tmp_path / "trusted.jsonl"
    assert main(["replay", str(rec), "--emit", str(out), "--config", str(toml), "--quiet"]) == 0
    assert "tier:" not in capsys.readouterr().out
    poses = [m["data"] for m in _lines(out) if m["type"] == "pose_data"]
    assert poses and {p["metadata"]["tier"] for p in poses} == {"pose"}


def test_serve_trusts_the_pose_model_with_simulated_sources_only(real_data, tmp_path):
    from pathlib import Path

    from wdp.app import _simulated

    bundled = Path(__file__).resolve().parents[1] / "recordings" / "one_walker_intel5300.h5"
    real = _import(real_data, FALLDOWN, tmp_path / "fall.h5")
    sources = {
        "demo": None,
        "sim": "sim:one_walker",
        "bundled": f"replay:{bundled}",
        "real": f"replay:{real}",
        "udp": "udp://127.0.0.1:5500?format=esp32",
    }
    for name, source in sources.items():
        envs = {} if source is None else {"room": {"routers": {"r1": {"source": source}}}}
        config = app_config(tmp_path, environments=envs)
        assert _simulated(config, "room") == (name in ("demo", "sim", "bundled")), name


@pytest.mark.parametrize(
    "name,what",
    [
        ("atheros_ar93xx_3x2_56sc.dat", "no pose model for atheros hardware; presence and motion"),
        ("esp32_csitool_passive_ch8.csv", "real hardware: the pose model is trained on simulated"),
        ("intel5300_inject_3x1_1khz.dat", "1x3 at 1000 Hz: the pose model needs 3x3 at >= 50"),
        ("intel5300_log.all_csi.6.7.6.dat", "the pose model needs 3x3 at >= 50 Hz; presence, "),
        ("nexmon_bcm43455c0_rpi_80mhz.pcap", "the pose model needs 1x1 at >= 50 Hz; presence, "),
    ],
)
def test_replay_of_every_sample_capture_says_what_it_can_sense(
    samples, tmp_path, capsys, name, what
):
    rec = tmp_path / "s.h5"
    assert main(["import", str(samples / name), "--out", str(rec), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["replay", str(rec), "--quiet"]) == 0
    tiers = [line for line in capsys.readouterr().out.splitlines() if line.startswith("tier:")]
    assert len(tiers) == 1 and what in tiers[0] and tiers[0].endswith(" only")


# --- configuration -----------------------------------------------------------------


def _config(tmp_path, **router):
    body = '[environments.room_001.routers.router_001]\nsource = "replay:x.h5"\n'
    body += "".join(f'{k} = "{v}"\n' for k, v in router.items())
    path = tmp_path / "wdp.toml"
    path.write_text(body)
    return load_config(path, environ={})


def test_detector_and_calibration_keys_take_files_of_their_kind(tmp_path):
    cal = tmp_path / "quiet.json"
    (tmp_path / "notes.txt").write_text("hello")
    detector = MODELS_DIR / "intel5300.npz"
    cfg = _config(tmp_path, detector=detector, calibration=_quiet_calibration(cal))
    router = cfg.environments["room_001"].routers["router_001"]
    assert (router.detector, router.calibration) == (str(detector), str(cal))
    assert _config(tmp_path).environments["room_001"].routers["router_001"].detector == ""
    field = f"{tmp_path / 'wdp.toml'}: environments.room_001.routers.router_001"
    cases = [
        ({"detector": tmp_path / "none.npz"}, f"detector: {tmp_path / 'none.npz'}: no such file"),
        ({"detector": cal}, f"detector: {cal}: not a wdp sensing detector"),
        ({"calibration": detector}, f"calibration: {detector}: not a readable calibration"),
        ({"calibration": tmp_path / "notes.txt"}, "calibration: "),
    ]
    for keys, message in cases:
        with pytest.raises(ConfigError) as err:
            _config(tmp_path, **keys)
        text = str(err.value)
        assert text.startswith(f"{field}.{message}") and "\n" not in text


def _quiet_calibration(path):
    """A calibration file (its numbers do not matter to the config)."""
    from wdp.sensing.calibration import from_variabilities
    from wdp.sensing.motion import MotionConfig

    save(from_variabilities([0.02, 0.021, 0.022, 0.02], MotionConfig(), source="test"), path)
    return path


# --- wdp serve ---------------------------------------------------------------------


def _calibrated_room(real_data, tmp_path):
    """The har11 fall imported, and a config whose router is calibrated on its quiet
    first 5 s (so presence is known from the start)."""
    rec = tmp_path / "fall.h5"
    _import(real_data, FALLDOWN, rec)
    quiet = load_stream(real_data / FALLDOWN).between(0, 5)  # before the fall
    cal = tmp_path / "quiet.json"
    save(calibrate_stream(quiet, source="first 5 s"), cal)
    router = {"source": "sim:x", "calibration": str(cal)}
    return rec, app_config(tmp_path, environments={"room_001": {"routers": {"router_001": router}}})


@pytest.mark.parametrize("kind", ["python", "javascript"])
async def test_the_specs_example_clients_take_keypointless_persons(real_data, tmp_path, kind):
    from test_app import _spec_client_command, spec_client_output

    command = _spec_client_command(kind)
    rec, config = _calibrated_room(real_data, tmp_path)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve, config, recording=rec, speed=3.0))
            # a frame with the person without keypoints
            await spec_client_output(command, port, token_for(config), b"1 persons")
            nursery.cancel_scope.cancel()


async def test_serve_streams_the_sensing_tier_of_a_real_capture(real_data, tmp_path):
    rec, config = _calibrated_room(real_data, tmp_path)
    token = token_for(config)
    stop = trio.Event()
    seen = {"hardware_event": [], "pose_data": [], "activity_event": [], "occupancy_update": []}
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                functools.partial(serve, config, stop=stop, recording=rec, speed=4.0)
            )
            url = f"/ws/v1?token={token}"
            async with trio_websocket.open_websocket("127.0.0.1", port, url, use_ssl=False) as ws:
                kinds = ("pose_data", "activity_event", "hardware_event", "occupancy_update")
                subscribe = {"subscriptions": [{"event_type": k} for k in kinds]}
                await ws.send_message(
                    orjson.dumps({"type": "subscribe", "data": subscribe}).decode()
                )
                while not seen["activity_event"]:
                    msg = orjson.loads(await ws.get_message())
                    if msg["type"] in seen:
                        seen[msg["type"]].append(msg)
                status, body = await http_get(port, f"/api/v1/environments?token={token}")
                (listed,) = orjson.loads(body)["environments"]
                assert (listed["tier"], listed["model_version"]) == ("sensing", "sensing-intel5300")
                why = "1x3 at 20 Hz: the pose model needs 3x3 at >= 50 Hz"
                assert listed["tier_reasons"] == {"router_001": why}
                stop.set()
    assert [m["data"]["message"] for m in seen["hardware_event"]] == [HAR11_NOTE]
    fall = seen["activity_event"][0]["data"]
    assert fall["event_type"] == "fall_detected" and fall["actions"] == ["alert_triggered"]
    present = [p["data"] for p in seen["pose_data"] if p["data"]["persons"]]
    assert present, "the calibrated room sees someone move before the fall"
    person = present[0]["persons"][0]
    assert person["keypoints"] == [] and person["bounding_box"] is None
    assert person["activity"]["velocity"] is None
    assert_shape(
        {"type": "pose_data", "timestamp": "x", "data": present[0]},
        json.loads(SPEC_EXAMPLES["pose_data"]),
        "pose_data",
    )
    assert seen["occupancy_update"][0]["data"]["change_type"] == "person_entered"
