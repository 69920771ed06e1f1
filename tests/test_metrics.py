"""Metrics: histogram buckets, sliding-window percentiles, process figures, and /metrics as
Prometheus' own parser reads it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from assistant_cli.domain.events import MessageOut, ProviderCallFailed
from assistant_cli.observability.metrics import (
    Histogram,
    ProcessStats,
    Registry,
    SlidingWindow,
    percentile,
)
from assistant_cli.observability.serve_metrics import ServeMetrics
from tests.fakes.openai_server import Error, FakeOpenAI
from tests.gateway_harness import live_gateway, wait_until


def test_histogram_counts_are_cumulative_and_bounds_inclusive() -> None:
    h = Histogram("x_seconds", "x", buckets=(0.1, 0.5, 1.0))
    for v in (0.05, 0.1, 0.3, 2.0):
        h.observe(v)
    samples = {(s, labels.get("le")): v for s, labels, v in h.samples()}
    assert samples[("_bucket", "0.1")] == 2  # 0.1 itself counts as <= 0.1
    assert samples[("_bucket", "0.5")] == 3
    assert samples[("_bucket", "1.0")] == 3
    assert samples[("_bucket", "+Inf")] == 4
    assert samples[("_count", None)] == 4
    assert samples[("_sum", None)] == pytest.approx(2.45)


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([], 99) is None
    assert percentile([7.0], 99) == 7.0


def test_sliding_window_forgets_old_values_and_keeps_its_sum() -> None:
    now = [0.0]
    w = SlidingWindow(60, clock=lambda: now[0])
    for v in (1.0, 2.0, 3.0):
        w.add(v)
        now[0] += 10
    assert w.count() == 3 and w.sum() == 6.0
    now[0] = 75.0  # the first value (t=0) and the second (t=10) are older than 60 s
    assert w.values() == [3.0] and w.sum() == 3.0
    assert w.percentiles(50, 99) == [3.0, 3.0]
    now[0] = 1000.0
    assert w.count() == 0 and w.sum() == 0.0 and w.percentiles(99) == [None]


def test_sliding_window_is_trimmed_on_write_not_only_when_read() -> None:
    now = [0.0]
    w = SlidingWindow(60, clock=lambda: now[0])
    for _ in range(10_000):  # 20 per second for 500 s, and nobody reads
        w.add(5.0)
        now[0] += 0.05
    assert len(w._items) <= 60 * 20 + 1  # what the last minute holds, not 10,000


def test_serve_metrics_memory_is_bounded_by_time_not_by_messages() -> None:
    now = [0.0]
    m = ServeMetrics(lambda: 0, clock=lambda: now[0])
    out = MessageOut(channel="telegram", sender="1", outcome="answered", latency_ms=30.0,
                     overhead_ms=1.0, id=1, length=2, text="hi")
    held = []
    for minute in range(12):  # 20 msg/s for 12 minutes, no reader
        for _ in range(1200):
            m.handle(out)
            now[0] += 0.05
        held.append(sum(len(w) for w in m.windows()))
        del minute
    # Flat once every window is full (after 5 minutes), give or take a sample at the edge.
    assert max(held[6:]) - min(held[6:]) <= 4
    assert held[-1] < 3 * 1200 + 2 * 301  # latency windows: a minute; counts: a bucket a second
    snap = m.snapshot()
    assert 1200 <= snap["messages_per_min"] <= 1220  # a minute, give or take a 1 s bucket
    assert snap["success_rate"] == 1.0


def test_process_stats_read_cpu_and_memory() -> None:
    now = [0.0]
    stats = ProcessStats(clock=lambda: now[0])
    sum(i * i for i in range(200_000))  # burn a little CPU
    now[0] = 1.0
    assert stats.cpu_percent() >= 0.0
    assert stats.rss_bytes() > 10_000_000


def test_label_values_are_escaped() -> None:
    reg = Registry()
    c = reg.counter("odd", "labels with quotes", ["name"])
    c.inc(name='a "b"\\c\nd')
    families = {f.name: f for f in text_string_to_metric_families(reg.render())}
    assert families["odd"].samples[0].labels["name"] == 'a "b"\\c\nd'


def answered(channel: str, latency_ms: float) -> MessageOut:
    return MessageOut(channel=channel, sender="1", outcome="answered", latency_ms=latency_ms,
                      overhead_ms=1.0, id=1, length=2, text="hi")


def test_snapshot_from_events_compares_against_the_objectives() -> None:
    m = ServeMetrics(lambda: 3)
    for latency in (100.0, 200.0, 900.0):
        m.handle(answered("telegram", latency))
    m.handle(MessageOut(channel="telegram", sender="1", outcome="failed", latency_ms=50.0,
                        overhead_ms=0.0, id=2, length=0, text=""))
    m.handle(ProviderCallFailed(provider="p", kind="rate_limit", status=429, cooldown_s=30.0))
    snap = m.snapshot()
    assert snap["messages_total"] == 4 and snap["messages_per_min"] == 4
    assert snap["latency_p50_ms"] == 100.0 and snap["latency_p99_ms"] == 900.0
    assert snap["success_rate"] == 0.75
    assert snap["provider_errors_total"] == 1 and snap["queue_depth"] == 3
    assert snap["objectives"] == {"latency_p99_ms": 500.0, "success_rate": 0.999,
                                  "cpu_percent": 70.0}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def test_metrics_endpoint_parses_with_the_prometheus_client(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.enqueue(Error.invalid_api_key())
    async with live_gateway(tmp_path, fake) as h:
        for text in ("first", "second", "third"):
            h.channel.feed(text)
        await wait_until(lambda: h.control.metrics.handled.total() == 3, what="3 handled")
        async with aiohttp.ClientSession() as session, \
                session.get(h.base_url + "/metrics") as resp:
            body = await resp.text()
    families = {f.name: f for f in text_string_to_metric_families(body)}

    def value(family: str, sample: str, **labels: str) -> float:
        return next(s.value for s in families[family].samples
                    if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))

    assert families["assistant_messages"].type == "counter"
    assert value("assistant_messages", "assistant_messages_total", channel="telegram",
                 outcome="answered") == 2
    assert value("assistant_messages", "assistant_messages_total", channel="telegram",
                 outcome="failed") == 1
    assert value("assistant_messages_received", "assistant_messages_received_total",
                 channel="telegram") == 3
    latency = families["assistant_message_latency_seconds"]
    assert latency.type == "histogram"
    assert value("assistant_message_latency_seconds", "assistant_message_latency_seconds_count",
                 channel="telegram") == 3
    assert value("assistant_message_latency_seconds", "assistant_message_latency_seconds_bucket",
                 channel="telegram", le="+Inf") == 3
    assert value("assistant_provider_errors", "assistant_provider_errors_total",
                 provider="fake", kind="auth") == 1
    assert value("assistant_queue_depth", "assistant_queue_depth") == 0
    assert value("process_resident_memory_bytes", "process_resident_memory_bytes") > 0
    assert value("process_cpu_seconds", "process_cpu_seconds_total") > 0
    assert "process_cpu_percent" in families and "assistant_gateway_clients" in families
