"""The ``wdp`` command line. Each sub-command is a thin shell over a library function.

Errors the user can act on (bad file, bad URL, bad option) are one line on stderr and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
from pathlib import Path

import trio
from tqdm import tqdm

from wdp import __version__
from wdp.ids import IDENTIFIER_RULE, is_identifier

#: Exit statuses.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Problems printed by ``wdp import`` before "... and N more".
MAX_PROBLEMS_SHOWN = 10


def _ident(value: str) -> str:
    if not is_identifier(value):
        raise argparse.ArgumentTypeError(f"must be {IDENTIFIER_RULE}")
    return value


def _source_mac(value: str) -> str:
    from wdp.capture.frame import normalize_mac

    if value.strip().lower() == "any":
        return "any"
    try:
        return normalize_mac(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _label(value: str) -> str:
    """A ``--label`` value: snake_case, the activity type a detector trained on it reports."""
    from wdp.recorder.schema import check_label

    try:
        return check_label(value, "the value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _group(value: str) -> str:
    """A ``--group`` value: one CSV cell (no commas, newlines or surrounding spaces)."""
    from wdp.recorder.schema import check_group

    try:
        return check_group(value, "the value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_label_options(p: argparse.ArgumentParser) -> None:
    """``--label`` / ``--group`` of ``wdp import`` and ``wdp record``: a training session."""
    p.add_argument(
        "--label",
        type=_label,
        default=None,
        help="what the person was doing, snake_case (e.g. walking, sit_down, fall): a "
        "labelled session for wdp train",
    )
    p.add_argument(
        "--group",
        type=_group,
        default=None,
        help="who or where (person or room): the unit wdp eval --leave-one-out group leaves out",
    )


def _label_note(args: argparse.Namespace) -> str:
    """`` (label walking, group alice)`` for the summary line of a labelled session."""
    parts = [f"{k} {v}" for k, v in (("label", args.label), ("group", args.group)) if v]
    return f" ({', '.join(parts)})" if parts else ""


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not (0 < seconds < 10**7):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return seconds


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: str) -> float:
    """Seconds from '90', '90s', '30m', '1h' or '1d'."""
    text = value.strip().lower()
    unit = _UNITS.get(text[-1:], None)
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {value!r} (e.g. 30m, 1h)") from None
    if not (0 < seconds < 10**9):
        raise argparse.ArgumentTypeError("must be a positive duration")
    return seconds


def _speed(value: str) -> float:
    if value.strip().lower() == "max":
        return math.inf
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speed must be 'max' or a number, got {value!r}"
        ) from None
    if not (0 < speed <= 10**6):
        raise argparse.ArgumentTypeError("speed must be positive")
    return speed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wdp", description="WiFi CSI sensing server and tools.")
    parser.add_argument("--version", action="version", version=f"wdp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("import", help="import a capture file from real hardware")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "intel5300", "atheros", "nexmon", "esp32", "esp32-npz"],
        help="capture format (default: detect by content)",
    )
    p.add_argument("--router-id", type=_ident, default="router_001")
    p.add_argument("--environment-id", type=_ident, default="room_001")
    p.add_argument("--out", type=Path, required=True, help="recording to write (.h5)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--source-mac",
        type=_source_mac,
        default=None,
        help="keep only this transmitter's frames, or 'any' (default: the one heard most)",
    )
    who.add_argument(
        "--split-transmitters",
        action="store_true",
        help="one router per transmitter: ROUTER_ID.<mac hex>",
    )
    p.add_argument(
        "--all-layouts",
        action="store_true",
        help="keep frames of every bandwidth and subcarrier layout (default: the most common)",
    )
    _add_label_options(p)
    p.set_defaults(run=_cmd_import)

    p = commands.add_parser("record", help="record a live UDP source")
    p.add_argument("source", help="e.g. udp://0.0.0.0:5500?format=nexmon")
    p.add_argument("--router-id", type=_ident, default=None)
    p.add_argument("--environment-id", type=_ident, default=None)
    p.add_argument("--out", type=Path, required=True, help="recording to write (.h5)")
    p.add_argument("--duration", type=_positive_seconds, default=None, help="seconds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_label_options(p)
    p.set_defaults(run=_cmd_record)

    p = commands.add_parser("simulate", help="simulate a scenario into a recording")
    p.add_argument("--scenario", help="built-in scenario name or a TOML file")
    p.add_argument("--list", action="store_true", help="list the built-in scenarios")
    p.add_argument(
        "--seconds",
        type=_positive_seconds,
        default=None,
        help="simulated seconds (default: the scenario's duration)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--profile",
        choices=["intel5300", "esp32", "nexmon"],
        default=None,
        help="hardware profile for every router (default: the scenario's)",
    )
    p.add_argument("--environment-id", type=_ident, default="sim")
    p.add_argument("--out", type=Path, help="recording to write (.h5)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_simulate)

    p = commands.add_parser("serve", help="run the server (with no config: the demo)")
    p.add_argument("--config", type=Path, default=None, help="wdp.toml")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--model", type=Path, default=None, help="model file (default: shipped)")
    p.set_defaults(run=_cmd_serve)

    p = commands.add_parser("token", help="mint an access token with the configured key")
    p.add_argument("--config", type=Path, default=None, help="wdp.toml")
    p.add_argument("--sub", required=True, help="who the token is for")
    p.add_argument("--roles", default="viewer", help="comma-separated: viewer, admin")
    p.add_argument("--environments", default="*", help="comma-separated ids, or *")
    p.add_argument("--ttl", type=_duration, default=3600.0, help="lifetime, e.g. 30m, 1h, 1d")
    p.set_defaults(run=_cmd_token)

    from wdp.inference.evaluation import add_eval_arguments
    from wdp.inference.training import add_train_arguments
    from wdp.sensing.cli import add_label_arguments

    p = commands.add_parser(
        "train",
        help="train the pose model on simulated data, or (--labels) the activity and fall "
        "detector on labelled real captures",
    )
    add_train_arguments(p)
    add_label_arguments(p, train=True)
    p.set_defaults(run=_cmd_train)

    p = commands.add_parser(
        "eval",
        help="evaluate a model beside baselines on held-out data, or (--labels) a detector "
        "on labelled real captures",
    )
    add_eval_arguments(p)
    _optional(p, "--model")  # --labels runs need --detector instead
    add_label_arguments(p, train=False)
    p.set_defaults(run=_cmd_eval)

    p = commands.add_parser("replay", help="replay a recording through the pipeline")
    p.add_argument("recording", type=Path)
    p.add_argument("--emit", type=Path, default=None, help="write every event as JSON lines")
    p.add_argument("--speed", type=_speed, default=math.inf, help="max (default) or a factor")
    p.add_argument("--model", type=Path, default=None, help="model file (default: shipped)")
    p.add_argument("--workers", type=int, default=1, choices=range(1, 17), metavar="N")
    p.add_argument(
        "--compare-truth",
        action="store_true",
        help="print figures against the recording's ground truth",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--serve",
        action="store_true",
        help="serve the recording's events like wdp serve (speed default 1.0 then)",
    )
    p.add_argument("--loop", action="store_true", help="with --serve: play it in a loop")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="wdp.toml: its routers' detector and calibration; with --serve, the server's",
    )
    p.add_argument("--port", type=int, default=None, help="with --serve: the port")
    p.set_defaults(run=_cmd_replay)

    p = commands.add_parser("inspect", help="summarize a recording")
    p.add_argument("recording", type=Path)
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="OUT.png",
        help="also draw amplitude, sanitized phase, Doppler and tracks (needs wdp[plot])",
    )
    p.set_defaults(run=_cmd_inspect)

    p = commands.add_parser("calibrate", help="learn a quiet room's motion level from a capture")
    p.add_argument("recording", type=Path, help="recording (.h5) or capture file of the quiet room")
    p.add_argument("--out", type=Path, required=True, help="calibration to write (.json or .npz)")
    p.add_argument("--router", default=None, help="router of a recording with several")
    p.add_argument("--start", type=float, default=None, help="first second to use")
    p.add_argument("--end", type=float, default=None, help="second to stop at")
    p.set_defaults(run=_cmd_calibrate)
    return parser


def _optional(p: argparse.ArgumentParser, flag: str) -> None:
    """Make a required option optional (its absence is checked by the command)."""
    for action in p._actions:
        if flag in action.option_strings:
            action.required = False


def _cmd_train(args: argparse.Namespace) -> int:
    """``wdp train``: the pose model, or with --labels the real-data detectors."""
    if args.labels:
        from wdp.sensing.cli import run_train as run_sensing

        return run_sensing(args)
    from wdp.inference.training import run_train

    return run_train(args)


def _cmd_eval(args: argparse.Namespace) -> int:
    """``wdp eval``: the pose model, or with --labels the real-data detectors."""
    if args.labels:
        from wdp.sensing.cli import run_eval as run_sensing

        return run_sensing(args)
    if args.model is None:
        print("wdp eval: error: --model is required (or --labels)", file=sys.stderr)
        return 2
    from wdp.inference.evaluation import run_eval

    return run_eval(args)


def _refuse_overwrite(out: Path) -> None:
    if out.exists():
        raise _UserError(f"{out} exists; choose another --out or remove it")


class _UserError(Exception):
    pass


def _cmd_import(args: argparse.Namespace) -> int:
    from wdp.capture.importer import import_capture

    _refuse_overwrite(args.out)
    report = import_capture(
        args.file,
        args.out,
        format=args.format,
        router_id=args.router_id,
        environment_id=args.environment_id,
        source_mac=args.source_mac,
        split_transmitters=args.split_transmitters,
        keep_majority_layout=not args.all_layouts,
        progress=not args.quiet,
        label=args.label or "",
        label_group=args.group or "",
    )
    for line in report.problems[:MAX_PROBLEMS_SHOWN]:
        print(f"wdp import: skipped: {line}", file=sys.stderr)
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        print(
            f"wdp import: ... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more", file=sys.stderr
        )
    for line in report.notes[:MAX_PROBLEMS_SHOWN]:
        print(f"wdp import: note: {line}", file=sys.stderr)
    dropped = sum(report.dropped.values())
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items()))
    routers = f", routers {', '.join(report.routers)}" if len(report.routers) > 1 else ""
    print(
        f"imported {report.frames} frames from {report.records} records "
        f"({report.format}), skipped {report.skipped}, dropped {dropped}"
        + (f" ({reasons})" if reasons else "")
        + f"{routers} -> {report.out}{_label_note(args)}"
    )
    return EXIT_OK if report.frames else EXIT_FAILED


def _cmd_record(args: argparse.Namespace) -> int:
    from wdp.capture.record import record_source
    from wdp.capture.source import parse_source

    source = parse_source(args.source, router_id=args.router_id, environment_id=args.environment_id)
    _refuse_overwrite(args.out)
    print(f"recording {source.url} as router {source.router_id} -> {args.out}", file=sys.stderr)
    report = trio.run(
        lambda: record_source(
            source,
            args.out,
            duration_s=args.duration,
            progress=not args.quiet,
            label=args.label or "",
            label_group=args.group or "",
        )
    )
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.stats.skipped.items())) or "none"
    print(
        f"recorded {report.frames} frames from {report.datagrams} datagrams "
        f"(skipped: {skipped}) -> {report.out}{_label_note(args)}"
    )
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    from wdp.sim.scenario import list_scenarios, load_scenario
    from wdp.sim.simulate import simulate

    if args.list:
        for name in list_scenarios():
            print(f"{name:18} {load_scenario(name).description}")
        return EXIT_OK
    if not args.scenario or args.out is None:
        raise _UserError("--scenario and --out are required (or --list)")
    _refuse_overwrite(args.out)
    scenario = load_scenario(args.scenario)
    report = simulate(
        scenario,
        args.out,
        seed=args.seed,
        seconds=args.seconds,
        profile=args.profile,
        environment_id=args.environment_id,
        progress=not args.quiet,
    )
    frames = ", ".join(f"{rid} {n}" for rid, n in report.frames.items())
    print(
        f"simulated {report.seconds:g} s of {scenario.name} (seed {args.seed}): frames {frames}, "
        f"{report.truth_rows} truth rows, {report.falls} falls -> {report.out}"
    )
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    return _serve(args)


def _serve(args: argparse.Namespace, **replay) -> int:
    from wdp.app import serve
    from wdp.config import load_config
    from wdp.server.auth import Verifier, mint

    overrides: dict = {"server": {}}
    if getattr(args, "host", None) is not None:
        overrides["server"]["host"] = args.host
    if args.port is not None:
        overrides["server"]["port"] = args.port
    config = load_config(args.config, overrides=overrides)

    async def main() -> None:
        stop = trio.Event()

        async def stop_on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    print(
                        "wdp serve: stopping (clients told, recordings closed)",
                        file=sys.stderr,
                        flush=True,
                    )
                    stop.set()
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_on_signal)
            port = await nursery.start(
                lambda task_status: serve(
                    config, model_path=args.model, stop=stop, task_status=task_status, **replay
                )
            )
            host = config.server.host
            print(
                f"wdp serve: listening on http://{host}:{port}/ "
                f"(WebSocket ws://{host}:{port}/ws/v1)",
                flush=True,
            )
            if config.auth.algorithm == "HS256" and not config.auth.secret_file:
                key = Verifier.from_config(config.auth, config.state_dir).key
                token = mint(
                    config.auth,
                    key,
                    subject="developer",
                    roles=["viewer", "admin"],
                    environments="*",
                    ttl_s=config.auth.max_lifetime_s,
                )
                print(
                    f"development token (valid {config.auth.max_lifetime_s / 3600:g} h):\n"
                    f"{token}\ndashboard: http://{host}:{port}/?token={token}\n"
                    f"stream: ws://{host}:{port}/ws/v1?token={token}",
                    flush=True,
                )

    trio.run(main)
    return EXIT_OK


def _cmd_token(args: argparse.Namespace) -> int:
    from wdp.config import load_config
    from wdp.server.auth import Verifier, mint

    config = load_config(args.config)
    if config.auth.algorithm != "HS256":
        raise _UserError(
            "wdp token signs with the HS256 secret; with RS256/ES256 your "
            "identity provider issues the tokens"
        )
    key = Verifier.from_config(config.auth, config.state_dir).key
    envs = (
        "*"
        if args.environments.strip() == "*"
        else [e.strip() for e in args.environments.split(",") if e.strip()]
    )
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    try:
        print(
            mint(config.auth, key, subject=args.sub, roles=roles, environments=envs, ttl_s=args.ttl)
        )
    except ValueError as exc:
        raise _UserError(str(exc)) from None
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    if args.serve:
        speed = 1.0 if math.isinf(args.speed) else args.speed
        return _serve(args, recording=args.recording, speed=speed, loop=args.loop)
    from wdp.pipeline.compare import compare, format_comparison
    from wdp.pipeline.replay import encode_event, replay
    from wdp.recorder import open_recording

    with open_recording(args.recording) as rec:
        truth = rec.truth()
        total = sum(rec.frame_count(r.router_id) for r in rec.routers)
        closed = rec.closed_cleanly
        config = _replay_config(args.config)
        sensing = _replay_sensing(config, rec.routers)
    if args.compare_truth and truth is None:
        raise _UserError(f"{args.recording} has no ground truth to compare with")
    if not closed:
        print(
            f"wdp replay: warning: {args.recording} was not closed cleanly; "
            "replaying what it holds",
            file=sys.stderr,
        )
    if args.emit is not None:
        _refuse_overwrite(args.emit)
    events = []
    out = open(args.emit, "wb") if args.emit is not None else None
    try:
        with tqdm(total=total, unit="frame", disable=args.quiet, desc="replay") as bar:

            def emit(event) -> None:
                if out is not None:
                    out.write(encode_event(event))
                if args.compare_truth:
                    events.append(event)

            report = trio.run(
                lambda: replay(
                    args.recording,
                    emit,
                    speed=args.speed,
                    model_path=args.model,
                    workers=args.workers,
                    progress=bar.update,
                    sensing=sensing,
                    pose_on_real_hardware=config is not None
                    and config.detection.pose_on_real_hardware,
                )
            )
    except BaseException:
        if out is not None:
            out.close()
            args.emit.unlink(missing_ok=True)  # no half-written event file
        raise
    if out is not None:
        out.close()
    for note in report.tier_notes:  # what the hardware cannot give, said once per router
        print(f"tier: {note}")
    print(
        f"replayed {report.frames} frames: {report.windows} windows, {report.events} events"
        + (f" -> {args.emit}" if args.emit else "")
    )
    if args.compare_truth:
        print(format_comparison(compare(events, truth)))
    return EXIT_OK


def _replay_config(config_path: Path | None):
    """The ``--config`` of a replay, or None."""
    if config_path is None:
        return None
    from wdp.config import load_config

    return load_config(config_path)


def _replay_sensing(config, routers):
    """The detector and calibration files ``config`` names for the recording's routers
    (matched by environment and router id), or None without a config."""
    if config is None:
        return None
    from wdp.pipeline.tiered import SensingSetup, sensing_setup

    setup = SensingSetup()
    for env in sorted({r.environment_id for r in routers}):
        part = sensing_setup(config, env, [r for r in routers if r.environment_id == env])
        setup.detectors.update(part.detectors)
        setup.calibrations.update(part.calibrations)
    return setup


def _cmd_inspect(args: argparse.Namespace) -> int:
    from wdp.recorder import format_summary, summarize

    if args.plot is not None:
        from wdp.plot import FORMATS, PlotUnavailable, require_matplotlib

        try:
            require_matplotlib()  # before any work: say at once what is missing
        except PlotUnavailable as exc:
            raise _UserError(str(exc)) from None
        if args.plot.suffix.lower() not in FORMATS:
            raise _UserError(f"--plot {args.plot}: must end with {', '.join(FORMATS)}")
    print(format_summary(summarize(args.recording)))
    from wdp.pipeline.tiered import recording_tiers

    for line in recording_tiers(args.recording):
        print(f"  tier: {line}")
    if args.plot is not None:
        from wdp.plot import plot_recording

        shown = plot_recording(args.recording, args.plot)
        print(
            f"plot: router {shown.router_id}, {shown.frames} frames, "
            f"{shown.estimated_tracks} estimated tracks, {shown.true_people} true people"
            + (f" ({shown.note})" if shown.note else "")
            + f" -> {args.plot}"
        )
    return EXIT_OK


def _calibration_stream(args: argparse.Namespace):
    """The stream ``wdp calibrate`` learns from: a recording's router or a capture file."""
    from wdp.sensing.stream import from_batch, load_stream

    if args.recording.suffix.lower() not in (".h5", ".hdf5"):
        return load_stream(args.recording), ""
    from wdp.recorder import open_recording

    with open_recording(args.recording) as rec:
        ids = [r.router_id for r in rec.routers]
        router = args.router or (ids[0] if len(ids) == 1 else None)
        if router not in ids:
            raise _UserError(f"{args.recording}: choose --router among {', '.join(ids)}")
        batch = rec.read_batch(router)
    if batch is None or len(batch) == 0:
        raise _UserError(f"{args.recording}: router {router} has no frames")
    return from_batch(batch), f" router {router}"


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from wdp.capture.formats import CaptureFileError
    from wdp.recorder.schema import RecordingError
    from wdp.sensing.calibration import CalibrationError, calibrate_stream, save
    from wdp.sensing.stream import StreamError

    _refuse_overwrite(args.out)
    if args.out.suffix.lower() not in (".json", ".npz"):
        raise _UserError(f"--out {args.out}: a calibration file ends with .json or .npz")
    try:
        stream, router = _calibration_stream(args)
        stream = stream.between(args.start, args.end)
        span = f"{args.start or 0:g}-{stream.duration_s + (args.start or 0):.1f} s"
        cal = calibrate_stream(stream, source=f"{args.recording.name}{router} {span}")
        save(cal, args.out)
    except (CaptureFileError, StreamError, CalibrationError, RecordingError, OSError) as exc:
        raise _UserError(str(exc)) from None
    print(
        f"quiet level {cal.quiet_median:.5f} (p95 {cal.quiet_p95:.5f}) from {cal.windows} "
        f"windows of {cal.source}, {cal.links} links x {cal.subcarriers} bins at "
        f"{cal.rate_hz:.0f} Hz -> {args.out}"
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from wdp.capture.formats import CaptureFileError
    from wdp.capture.source import SourceError
    from wdp.config import ConfigError
    from wdp.inference.model import ModelError
    from wdp.recorder import RecordingError
    from wdp.sim.scenario import ScenarioError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except (
        CaptureFileError,
        SourceError,
        RecordingError,
        ScenarioError,
        ConfigError,
        ModelError,
        _UserError,
    ) as exc:
        print(f"wdp {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # e.g. port in use, unwritable output
        print(
            f"wdp {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
