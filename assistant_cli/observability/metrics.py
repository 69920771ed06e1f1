"""Metric primitives: counters, gauges, histograms, sliding windows, process CPU and memory.

Rendered in the Prometheus text exposition format (version 0.0.4) without the
prometheus_client package, which `serve` does not need for anything else. Everything here
runs on the event loop thread; nothing locks.
"""

from __future__ import annotations

import bisect
import math
import os
import resource
import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

# Seconds. Prometheus' default buckets, plus 30 s for slow model answers.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Labels = tuple[str, ...]
Sample = tuple[str, dict[str, str], float]  # name suffix, labels, value


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class Metric(ABC):
    """A named family of samples, keyed by label values."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: dict[str, str]) -> Labels:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    @abstractmethod
    def samples(self) -> Iterator[Sample]:
        """(suffix, labels, value) for every series this metric has."""

    def render(self, constant: dict[str, str] | None = None) -> Iterator[str]:
        """The family's lines; `constant` labels (e.g. the replica) go on every sample."""
        # Counters are announced under their sample name (NAME_total), as in the 0.0.4 format.
        family = f"{self.name}_total" if self.kind == "counter" else self.name
        yield f"# HELP {family} {self.help}"
        yield f"# TYPE {family} {self.kind}"
        for suffix, own, value in self.samples():
            labels = {**constant, **own} if constant else own
            if labels:
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                yield f"{self.name}{suffix}{{{inner}}} {_number(value)}"
            else:
                yield f"{self.name}{suffix} {_number(value)}"


class Counter(Metric):
    """Only goes up. Samples are exposed as NAME_total."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self.values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, **labels: str) -> float:
        return self.values.get(self._key(labels), 0.0)

    def total(self) -> float:
        return sum(self.values.values())

    def samples(self) -> Iterator[Sample]:
        if not self.labelnames and not self.values:
            yield "_total", {}, 0.0
        for key, value in sorted(self.values.items()):
            yield "_total", dict(zip(self.labelnames, key, strict=True)), value


class Gauge(Metric):
    """A value read when the metrics are rendered."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        super().__init__(name, help_text)
        self.read = read

    def samples(self) -> Iterator[Sample]:
        yield "", {}, float(self.read())


class Histogram(Metric):
    """Counts of observations at or below each bucket's upper bound, with sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, help_text, labelnames)
        self.bounds = tuple(sorted(buckets))
        # Per label set: per-bucket (non-cumulative) counts, the last one for +Inf; sum.
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0] * (len(self.bounds) + 1)
            self.sums[key] = 0.0
        counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sums[key] += value

    def count(self, **labels: str) -> int:
        return sum(self.counts.get(self._key(labels), ()))

    def samples(self) -> Iterator[Sample]:
        for key in sorted(self.counts):
            labels = dict(zip(self.labelnames, key, strict=True))
            running = 0
            for bound, n in zip((*self.bounds, math.inf), self.counts[key], strict=True):
                running += n
                yield "_bucket", {**labels, "le": _number(bound)}, float(running)
            yield "_sum", labels, self.sums[key]
            yield "_count", labels, float(running)


class Registry:
    """The metrics of one process, in the order they were added."""

    def __init__(self) -> None:
        self.metrics: list[Metric] = []
        # Labels on every sample: `serve` on a shared PostgreSQL state sets {"replica": id},
        # so the series of several replicas stay apart when one Prometheus scrapes them all.
        self.constant_labels: dict[str, str] = {}

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self.add(Counter(name, help_text, labelnames))  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> Gauge:
        return self.add(Gauge(name, help_text, read))  # type: ignore[return-value]

    def histogram(self, name: str, help_text: str, labelnames: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return self.add(Histogram(name, help_text, labelnames, buckets))  # type: ignore[return-value]

    def render(self) -> str:
        """The Prometheus text format, ending with a newline."""
        lines: list[str] = []
        for metric in self.metrics:
            lines.extend(metric.render(self.constant_labels))
        return "\n".join(lines) + "\n"


def _rank(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (0 < q <= 100), or None without values."""
    return _rank(sorted(values), q)


class SlidingWindow:
    """Values observed during the last `seconds`, for percentiles, sums and rates.

    Trimmed on every write as well as on every read, so memory follows the window's time
    span even when nobody reads; bounded by `max_samples` as well, so a flood costs memory
    only up to that count (the oldest values go first, which is what the window would do
    anyway). For counts and sums alone, `BucketWindow` holds less.
    """

    def __init__(self, seconds: float, *, max_samples: int = 20_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._items: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._sum = 0.0

    def add(self, value: float = 1.0) -> None:
        now = self.clock()
        self._prune(now)
        items = self._items
        if len(items) == items.maxlen:
            self._sum -= items[0][1]
        items.append((now, value))
        self._sum += value

    def __len__(self) -> int:
        """Samples held in memory now (expired ones included until the next add or read)."""
        return len(self._items)

    def _prune(self, now: float | None = None) -> None:
        cutoff = (self.clock() if now is None else now) - self.seconds
        items = self._items
        while items and items[0][0] < cutoff:
            self._sum -= items.popleft()[1]
        if not items:
            self._sum = 0.0  # no float drift carried into the next burst

    def values(self) -> list[float]:
        self._prune()
        return [v for _, v in self._items]

    def count(self) -> int:
        self._prune()
        return len(self._items)

    def sum(self) -> float:
        self._prune()
        return self._sum

    def percentiles(self, *qs: float) -> list[float | None]:
        """Several percentiles from one sort (this runs on the event loop every second)."""
        ordered = sorted(self.values())
        return [_rank(ordered, q) for q in qs]


class BucketWindow:
    """Count and sum of the values observed during the last `seconds`, kept in buckets of
    `resolution` seconds: memory is bounded by time (seconds / resolution buckets), not by
    how many values arrive. The window's edge is exact to one bucket (it may count up to
    `resolution` seconds more)."""

    def __init__(self, seconds: float, *, resolution: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.resolution = resolution
        self.clock = clock
        self._buckets: deque[list[float]] = deque()  # [start, count, sum], oldest first

    def add(self, value: float = 1.0) -> None:
        now = self.clock()
        self._prune(now)
        start = now - now % self.resolution
        buckets = self._buckets
        if buckets and buckets[-1][0] == start:
            buckets[-1][1] += 1
            buckets[-1][2] += value
        else:
            buckets.append([start, 1.0, value])

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        cutoff = now - self.seconds
        buckets = self._buckets
        while buckets and buckets[0][0] + self.resolution <= cutoff:
            buckets.popleft()

    def count(self) -> int:
        self._prune(self.clock())
        return int(sum(b[1] for b in self._buckets))

    def sum(self) -> float:
        self._prune(self.clock())
        return math.fsum(b[2] for b in self._buckets)


class ProcessStats:
    """CPU and memory of this process, from os.times() and /proc (or getrusage)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 min_interval: float = 0.5) -> None:
        self.clock = clock
        self.min_interval = min_interval
        self.started_at = time.time()
        self._last = (clock(), self.cpu_seconds())
        self._percent = 0.0

    @staticmethod
    def cpu_seconds() -> float:
        t = os.times()
        return t.user + t.system

    def cpu_percent(self) -> float:
        """CPU used since the previous reading, in % of one core (like `top`).

        Readings closer together than `min_interval` return the previous figure, so two
        readers (the dashboard tick and a Prometheus scrape) do not shrink each other's
        measuring interval to noise.
        """
        now, cpu = self.clock(), self.cpu_seconds()
        last_wall, last_cpu = self._last
        if now - last_wall >= self.min_interval:
            self._percent = max(0.0, (cpu - last_cpu) / (now - last_wall) * 100)
            self._last = (now, cpu)
        return round(self._percent, 1)

    @staticmethod
    def rss_bytes() -> int:
        """Resident memory now (Linux), or the peak resident memory elsewhere."""
        try:
            with open("/proc/self/statm", encoding="ascii") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return int(peak if sys.platform == "darwin" else peak * 1024)
