"""What one event costs inside `serve`: publish, the metrics consumer, the gateway's encoding.

    python benchmarks/events.py            # microseconds per message.out, best of 5

Compares a typed event (`bus.publish(MessageOut(...))`) with the by-name path kept for
older code (`bus.publish("message.out", **data)`, which builds the same class). Runs in
this process: no serve, no network. Figures are per event; a message publishes three.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant_cli.domain.events import EventBus, MessageOut  # noqa: E402
from assistant_cli.gateway.protocol import encode_event  # noqa: E402
from assistant_cli.observability.serve_metrics import ServeMetrics  # noqa: E402

DATA = {"channel": "telegram", "sender": "42", "outcome": "answered", "latency_ms": 312.0,
        "overhead_ms": 3.1, "id": 17, "length": 11, "text": "hello there"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="events per timing (20000)")
    args = parser.parse_args()
    bus = EventBus()
    bus.subscribe(args.number * 12)  # one queue, as the gateway hub has
    metrics = ServeMetrics(lambda: 0)

    def typed() -> None:
        event = bus.publish(MessageOut(**DATA))
        metrics.handle(event)
        encode_event(event, False)

    def by_name() -> None:
        event = bus.publish("message.out", **DATA)
        metrics.handle(event)
        encode_event(event, False)

    for label, fn in (("typed", typed), ("by name", by_name)):
        best = min(timeit.repeat(fn, number=args.number, repeat=5)) / args.number
        print(f"{label:8} {best * 1e6:6.2f} µs per event (publish + metrics + wire encoding)")


if __name__ == "__main__":
    main()
