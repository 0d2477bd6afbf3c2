"""Golden digests: every bundled recording, replayed with its shipped model, gives the
events recorded in tests/golden/events.json (made by tools/update_golden.py).

Any change to what the pipeline emits for the recordings (DSP, features, model weights,
tracking, event encoding) fails here naming the recording and what changed; when the
change is intended, regenerate the file with ``python tools/update_golden.py``.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("update_golden", ROOT / "tools" / "update_golden.py")
update_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(update_golden)

RECORDINGS = update_golden.bundled_recordings()
REGENERATE = (
    f"If the change is intended, regenerate the digests with `{update_golden.COMMAND}` "
    "and commit tests/golden/events.json."
)


@pytest.fixture(scope="module")
def golden() -> dict:
    path = update_golden.GOLDEN
    if not path.is_file():
        pytest.fail(f"{path} is missing. {REGENERATE}")
    return json.loads(path.read_text())


def describe_change(name: str, want: dict, got: dict) -> str:
    """One readable message: which recording, which digest and counts moved."""
    lines = [
        f"the events of recording {name} changed: sha256 {want['sha256'][:16]}... -> "
        f"{got['sha256'][:16]}..., {want['events']} -> {got['events']} events"
    ]
    for kind in sorted(want["by_type"].keys() | got["by_type"].keys()):
        a, b = want["by_type"].get(kind, 0), got["by_type"].get(kind, 0)
        if a != b:
            lines.append(f"  {kind}: {a} -> {b}")
    lines.append(REGENERATE)
    return "\n".join(lines)


def test_golden_file_covers_exactly_the_bundled_recordings(golden):
    names = {p.name for p in RECORDINGS}
    assert len(names) >= 4, f"bundled recordings not found in {update_golden.RECORDINGS}"
    missing, stale = sorted(names - golden.keys()), sorted(golden.keys() - names)
    assert not missing and not stale, (
        f"golden digests out of date: missing {missing}, no longer bundled {stale}. {REGENERATE}"
    )


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
async def test_events_match_golden(path, golden):
    data, by_type = await update_golden.replay_events(path)
    got = update_golden.digest(data, by_type)
    want = golden.get(path.name)
    if want is None:
        pytest.fail(f"no golden digest for recording {path.name}. {REGENERATE}")
    assert got["events"] > 0 and by_type.get("pose_data", 0) > 0
    if got != want:
        pytest.fail(describe_change(path.name, want, got))


async def test_same_bytes_at_any_speed_and_worker_count(autojump_clock):
    """test_replay checks this with a tiny model on the Intel recording; here with a
    shipped model on the nexmon recording of two people crossing (several tracks, an
    activity event): twice as fast as possible, once in real time (virtual clock) and
    with two worker threads."""
    path = update_golden.RECORDINGS / "two_crossing_nexmon.h5"
    fast, by_type = await update_golden.replay_events(path)
    again, _ = await update_golden.replay_events(path)
    paced, _ = await update_golden.replay_events(path, speed=1.0)
    two, _ = await update_golden.replay_events(path, workers=2)
    assert len(by_type) > 1 and fast.count(b"\n") == sum(by_type.values())
    assert fast == again, "two replays as fast as possible differ"
    assert fast == paced, "real-time replay differs from the fast one"
    assert fast == two, "replay with two workers differs from one worker"
