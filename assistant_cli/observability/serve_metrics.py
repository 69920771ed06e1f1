"""The metrics of a running `serve`, fed by the event bus: what /metrics and the dashboard show.

Objectives come from the specification (§4.1): message-processing latency P99 under
500 ms, success rate above 99.9 %, CPU under 70 % (of one core: `serve` is one event
loop, so one core is what saturates). Success rate is over handled messages in the last
five minutes: everything but `failed` outcomes and worker errors counts as a success.
Latency percentiles are over the last minute (sorting a longer window every second would
itself delay messages).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from assistant_cli.domain.events import Consumer, Event, EventBus
from assistant_cli.observability.metrics import (
    BucketWindow,
    ProcessStats,
    Registry,
    SlidingWindow,
)

OBJECTIVES = {"latency_p99_ms": 500.0, "success_rate": 0.999, "cpu_percent": 70.0}
WINDOW_SECONDS = 300.0
LATENCY_WINDOW_SECONDS = 60.0


class ServeMetrics:
    """Counters and windows updated from events; `snapshot()` for the gateway."""

    def __init__(self, queue_depth: Callable[[], int], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.queue_depth = queue_depth
        self.clock = clock
        self.started = clock()
        self.process = ProcessStats()
        # Set by the gateway once it exists.
        self.client_count: Callable[[], int] = lambda: 0
        reg = self.registry = Registry()
        self.received = reg.counter("assistant_messages_received",
                                    "Messages stored in the inbox, by channel.", ["channel"])
        self.handled = reg.counter(
            "assistant_messages", "Messages handled, by channel and outcome (answered, "
            "command, unsupported, blocked, capped, failed, error).", ["channel", "outcome"])
        self.latency = reg.histogram(
            "assistant_message_latency_seconds",
            "Time from claiming a message to finishing it, model time included.", ["channel"])
        self.overhead = reg.histogram(
            "assistant_message_overhead_seconds",
            "Time spent handling answered messages outside the model's own streaming.",
            ["channel"])
        self.provider_errors = reg.counter("assistant_provider_errors",
                                           "Failed provider calls, by provider and error class.",
                                           ["provider", "kind"])
        self.failovers = reg.counter("assistant_provider_failovers",
                                     "Turns handed to the next provider.", ["from_provider", "to"])
        self.pairing_requests = reg.counter("assistant_pairing_requests",
                                            "Pairing codes sent to unknown senders.", ["channel"])
        reg.gauge("assistant_queue_depth", "Messages waiting in the inbox.",
                  lambda: float(self.queue_depth()))
        reg.gauge("assistant_gateway_clients", "Connected WebSocket clients.",
                  lambda: float(self.client_count()))
        reg.gauge("process_cpu_percent", "CPU used by this process, % of one core.",
                  self.process.cpu_percent)
        reg.gauge("process_resident_memory_bytes", "Resident memory of this process.",
                  lambda: float(self.process.rss_bytes()))
        reg.gauge("process_start_time_seconds", "When this process started (Unix time).",
                  lambda: self.process.started_at)
        self.cpu_seconds = reg.counter("process_cpu_seconds", "User and system CPU time.")
        self._latencies = SlidingWindow(LATENCY_WINDOW_SECONDS, clock=clock)
        self._overheads = SlidingWindow(LATENCY_WINDOW_SECONDS, clock=clock)
        self._outcomes = BucketWindow(WINDOW_SECONDS, clock=clock)  # 1.0 success, 0.0 not
        self._per_minute = BucketWindow(60.0, clock=clock)
        self._consumer: Consumer | None = None

    # -- feeding ------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Account for one event (unknown names are ignored)."""
        name, data = event.name, event.data
        if name == "message.out":
            channel = str(data.get("channel", "?"))
            outcome = str(data.get("outcome", "?"))
            self.handled.inc(channel=channel, outcome=outcome)
            latency_ms = float(data.get("latency_ms") or 0.0)
            self.latency.observe(latency_ms / 1000, channel=channel)
            self._latencies.add(latency_ms)
            if outcome == "answered":
                overhead_ms = float(data.get("overhead_ms") or 0.0)
                self.overhead.observe(overhead_ms / 1000, channel=channel)
                self._overheads.add(overhead_ms)
            self._outcomes.add(0.0 if outcome == "failed" else 1.0)
            self._per_minute.add()
        elif name == "message.in":
            self.received.inc(channel=str(data.get("channel", "?")))
        elif name == "message.error":
            self.handled.inc(channel=str(data.get("channel", "?")), outcome="error")
            self._outcomes.add(0.0)
            self._per_minute.add()
        elif name == "provider.error":
            self.provider_errors.inc(provider=str(data.get("provider", "?")),
                                     kind=str(data.get("kind", "?")))
        elif name == "provider.failover":
            self.failovers.inc(from_provider=str(data.get("from_", "?")),
                               to=str(data.get("to", "?")))
        elif name == "pairing.requested":
            self.pairing_requests.inc(channel=str(data.get("channel", "?")))

    def start(self, events: EventBus) -> None:
        """Consume the bus in a background task (a bounded queue: never slows publishers)."""
        self._consumer = events.consume(self.handle, name="serve-metrics")

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def windows(self) -> list[SlidingWindow | BucketWindow]:
        """The sliding windows (their len() is what they hold in memory)."""
        return [self._latencies, self._overheads, self._outcomes, self._per_minute]

    # -- reading ------------------------------------------------------------------------
    def render(self) -> str:
        """Prometheus text format."""
        cpu = self.process.cpu_seconds()
        self.cpu_seconds.values[()] = cpu
        return self.registry.render()

    def snapshot(self) -> dict[str, Any]:
        """One JSON-friendly reading: what the dashboard plots every second."""
        handled = self._outcomes.count()
        p50, p99 = self._latencies.percentiles(50, 99)
        (overhead_p99,) = self._overheads.percentiles(99)
        return {
            "uptime_s": round(self.clock() - self.started, 1),
            "messages_total": int(self.handled.total()),
            "received_total": int(self.received.total()),
            "messages_per_min": self._per_minute.count(),
            "latency_p50_ms": None if p50 is None else round(p50, 1),
            "latency_p99_ms": None if p99 is None else round(p99, 1),
            "overhead_p99_ms": None if overhead_p99 is None else round(overhead_p99, 2),
            "success_rate": round(self._outcomes.sum() / handled, 5) if handled else None,
            "provider_errors_total": int(self.provider_errors.total()),
            "cpu_percent": self.process.cpu_percent(),
            "rss_bytes": self.process.rss_bytes(),
            "queue_depth": self.queue_depth(),
            "objectives": dict(OBJECTIVES),
        }
