"""The dashboard's replica table (Health tab): every `serve` replica on a shared PostgreSQL
state with its role and latest figures, from the `replica.metrics` event each replica
sends every two seconds (docs/replicas.md). A replica not heard from for `STALE` seconds
is shown as silent (stopped or cut off); with one `serve` on SQLite the table stays empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

STALE = 10.0
COLUMNS = ("replica", "role", "state", "msgs/min", "p99 ms", "queue", "in hand")


class ReplicaRoster:
    """The last reading of each replica, and when it came."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.latest: dict[str, tuple[dict[str, Any], float]] = {}

    def update(self, data: dict[str, Any]) -> None:
        name = data.get("replica")
        if isinstance(name, str) and name:
            self.latest[name] = (data, self.clock())

    def rows(self) -> list[tuple[str, ...]]:
        now = self.clock()
        out: list[tuple[str, ...]] = []
        for name, (data, at) in sorted(self.latest.items()):
            silent = now - at
            state = "up" if silent < STALE else f"silent {silent:.0f} s"
            p99 = data.get("latency_p99_ms")
            out.append((name, str(data.get("role", "?")), state,
                        str(data.get("messages_per_min") or 0),
                        "-" if p99 is None else f"{float(p99):.0f}",
                        str(data.get("queue_depth", "-")), str(data.get("held", "-"))))
        return out
