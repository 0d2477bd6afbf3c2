"""Write tests/golden/events.json: the digest of the events of every bundled recording.

``tests/test_golden.py`` replays each recording in ``recordings/`` with its shipped
model and compares the events with this file, so any change to what the pipeline emits
(DSP, model weights, tracking, event encoding) shows up in CI as a named recording whose
events changed. When such a change is intended, run this script and commit the file:

    .venv/bin/python tools/update_golden.py

Per recording it stores the sha256 of the encoded events (``encode_event`` lines, in
order, as ``wdp replay --emit`` writes them), the number of events and the count of each
event type (so a failing test can say *what* changed, not only that something did).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections import Counter
from pathlib import Path

import trio

from wdp.inference.model import ModelError
from wdp.pipeline.replay import encode_event, replay
from wdp.recorder import RecordingError

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
GOLDEN = ROOT / "tests" / "golden" / "events.json"
COMMAND = "python tools/update_golden.py"


def bundled_recordings() -> list[Path]:
    """Every recording shipped in ``recordings/``, in name order."""
    return sorted(RECORDINGS.glob("*.h5"))


async def replay_events(path: Path, **kw) -> tuple[bytes, dict[str, int]]:
    """The encoded events of ``path`` (``replay``'s keywords; speed inf unless given) and
    the count of each event type."""
    events = []
    kw.setdefault("speed", math.inf)
    await replay(path, events.append, **kw)
    data = b"".join(encode_event(e) for e in events)
    return data, dict(sorted(Counter(e.TYPE for e in events).items()))


def digest(data: bytes, by_type: dict[str, int]) -> dict:
    """The golden entry of one recording's events."""
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "events": sum(by_type.values()),
        "by_type": dict(sorted(by_type.items())),
    }


def compute_golden(paths: list[Path] | None = None) -> dict[str, dict]:
    """Replay every recording (speed inf, shipped models): ``{file name: entry}``."""
    golden = {}
    for path in bundled_recordings() if paths is None else paths:
        data, by_type = trio.run(replay_events, path)
        golden[path.name] = digest(data, by_type)
    return golden


def main() -> int:
    paths = bundled_recordings()
    if not paths:
        print(f"update_golden: error: no recordings in {RECORDINGS}", file=sys.stderr)
        return 1
    try:
        golden = compute_golden(paths)
    except (ModelError, RecordingError) as e:
        print(f"update_golden: error: {e}", file=sys.stderr)
        return 1
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n")
    for name, entry in golden.items():
        print(f"{name}: {entry['events']} events, sha256 {entry['sha256'][:16]}...")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
