"""A bench's goals and its exit status.

Each bench states its goals and prints whether each is met. A full run that misses a goal
exits non-zero, after printing which; a ``--smoke`` run (seconds, for CI, too short to
judge a goal) exits 0 unless it crashes::

    goals = Goals(smoke=args.smoke)
    ok = goals.check("p99 <= 30 ms", p99 <= 30.0, f"p99 {p99:.1f} ms")
    print(f"  goal: p99 <= 30 ms -> {'met' if ok else 'NOT met'}")
    ...
    return goals.exit_status()    # from main(); sys.exit(main())
"""

from __future__ import annotations


class Goals:
    """The goals a bench checked, and which it missed."""

    def __init__(self, *, smoke: bool) -> None:
        self.smoke = smoke
        self.checked: list[str] = []
        self.missed: list[str] = []

    def check(self, goal: str, met: bool, measured: str = "") -> bool:
        """Record one goal (``goal`` says what it is, ``measured`` what was measured);
        returns ``met``."""
        self.checked.append(goal)
        if not met:
            self.missed.append(f"{goal} ({measured})" if measured else goal)
        return bool(met)

    def exit_status(self) -> int:
        """0 when every goal was met or this is a smoke run; else 1, after printing the
        goals missed."""
        if self.smoke:
            return 0
        if self.missed:
            line = f"goals NOT met ({len(self.missed)} of {len(self.checked)}): " + "; ".join(
                self.missed
            )
            print(line, flush=True)
            return 1
        return 0
