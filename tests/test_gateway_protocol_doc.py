"""docs/GATEWAY_PROTOCOL.md names exactly the methods, events, error codes, refusals and
metric families the code has."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

import assistant_cli.gateway as gateway_pkg
from assistant_cli.app.replicas import reading
from assistant_cli.domain.events import LogRecorded, MetricsReading
from assistant_cli.gateway.methods import Methods
from assistant_cli.gateway.protocol import (
    FORWARDED_EVENTS,
    HELLO,
    HELLO_FIELDS,
    REPLICA_METRICS,
    WIRE_EVENTS,
)
from assistant_cli.observability.log_events import record_data
from assistant_cli.observability.serve_metrics import ServeMetrics

DOC = Path(__file__).resolve().parent.parent / "docs" / "GATEWAY_PROTOCOL.md"
GATEWAY_SOURCE = "\n".join(p.read_text() for p in Path(gateway_pkg.__file__).parent.glob("*.py"))


def section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def first_column(table_text: str) -> set[str]:
    return set(re.findall(r"^\| `([\w.]+)` \|", table_text, re.M))


def test_every_method_is_documented_and_every_documented_method_exists() -> None:
    services: Any = None
    assert first_column(section("Methods")) == set(Methods(services).table)


def test_every_forwarded_event_is_documented_and_nothing_more() -> None:
    assert first_column(section("Events")) == set(FORWARDED_EVENTS)


def documented_event_fields() -> dict[str, list[str]]:
    """Event name → the `field` names its data cell lists (parenthesised notes left out)."""
    rows = re.findall(r"^\| `([\w.]+)` \| (.*) \|$", section("Events"), re.M)
    return {name: re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", cell))
            for name, cell in rows}


def test_documented_event_data_is_what_the_wire_map_sends() -> None:
    spread = {MetricsReading.NAME: list(ServeMetrics(lambda: 0).snapshot()),
              LogRecorded.NAME: list(record_data(logging.makeLogRecord({"msg": "x"})))}
    replica = ["replica", *reading("all", 0, 0, ServeMetrics(lambda: 0).snapshot())]
    expected = {HELLO: list(HELLO_FIELDS), REPLICA_METRICS: replica}
    for cls, wire in WIRE_EVENTS.items():
        expected[cls.NAME] = spread[cls.NAME] if wire.spread else [k for k, _ in wire.fields]
    assert documented_event_fields() == expected


def test_every_field_of_a_forwarded_event_is_mapped_and_no_internal_name_leaks() -> None:
    for cls, wire in WIRE_EVENTS.items():
        if wire.spread is not None:
            assert [f.name for f in dataclasses.fields(cls)] == ["ts", wire.spread]
            continue
        attributes = {attr for _, attr in wire.fields}
        assert attributes == {f.name for f in dataclasses.fields(cls)} - {"ts"}, cls.NAME
        assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", key) for key, _ in wire.fields)


def test_documented_error_codes_are_the_ones_responses_use() -> None:
    used = set(re.findall(r'ProtocolError\(\s*"(\w+)"', GATEWAY_SOURCE))
    used |= set(re.findall(r'response_error\([^,]+,\s*"(\w+)"', GATEWAY_SOURCE))
    listed = re.search(r"Error codes: (.*?)\.\n", section("Frames"), re.S)
    assert listed is not None
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == used


def test_documented_refusals_are_the_ones_the_upgrade_uses() -> None:
    used = set(re.findall(r'TokenError\(\s*"(\w+)"', GATEWAY_SOURCE))
    used |= set(re.findall(r'Refusal\(\s*\d+,\s*"(\w+)"', GATEWAY_SOURCE))
    table = section("Connecting").split("### Refusals", 1)[1].split("###", 1)[0]
    assert set(re.findall(r"^\| \d+ \| `(\w+)` \|", table, re.M)) == used


def test_documented_metric_families_are_the_ones_served() -> None:
    block = section("Metrics").split("```", 2)[1]
    documented = {line.split("{")[0].split()[0] for line in block.splitlines() if line.strip()}
    served = {m.name + ("_total" if m.kind == "counter" else "")
              for m in ServeMetrics(lambda: 0).registry.metrics}
    assert documented == served
