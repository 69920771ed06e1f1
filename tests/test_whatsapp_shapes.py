"""The Graph request and webhook shapes that Meta documents, on both sides of the fake.

What we send is compared with the documented bodies; the fake refuses what Graph refuses,
so a wrong body fails here instead of in production; users who hide their number behind a
username (business-scoped user ids) are stored, answered and can be paired.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from assistant_cli.channels.whatsapp_graph import GraphClient, GraphError
from assistant_cli.cli.app import app
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.paths import resolve
from assistant_cli.store.db import Database
from assistant_cli.store.pairing import PairingStore
from tests.fakes.whatsapp_payloads import error_item
from tests.fakes.whatsapp_server import (
    ACCESS_TOKEN,
    API_VERSION,
    PHONE_NUMBER_ID,
    FakeGraph,
    envelope,
    new_wamid,
    status,
    text_payload,
)
from tests.whatsapp_support import running_channel

STRANGER = "15550001111"
HIDDEN = "US.13491208655302741918"  # a business-scoped user id: no phone number shown


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


async def test_text_template_and_read_bodies_are_the_documented_ones(
    graph: FakeGraph, isolated_home: Path
) -> None:
    wamid = new_wamid()
    async with running_channel(graph, isolated_home) as h:
        assert h.channel.graph is not None
        await h.channel.graph.send_text(STRANGER, "hello")
        await h.channel.graph.send_template(STRANGER, "reopen_chat", "de")
        await h.channel.graph.mark_read(wamid)
    text, template = (s.body for s in graph.sent)
    assert text == {"messaging_product": "whatsapp", "recipient_type": "individual",
                    "to": STRANGER, "type": "text",
                    "text": {"preview_url": False, "body": "hello"}}
    assert template == {"messaging_product": "whatsapp", "recipient_type": "individual",
                        "to": STRANGER, "type": "template",
                        "template": {"name": "reopen_chat", "language": {"code": "de"}}}
    assert [(r.message_id, r.typing) for r in graph.reads] == [(wamid, True)]


@pytest.mark.parametrize("body", [
    {"messaging_product": "whatsapp", "to": STRANGER, "type": "template",
     "template": {"name": "hello"}},
    {"messaging_product": "whatsapp", "to": STRANGER, "type": "text", "text": {"body": ""}},
    {"messaging_product": "whatsapp", "type": "text", "text": {"body": "to nobody"}},
    {"messaging_product": "whatsapp", "status": "read", "message_id": "42"},
    {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x",
     "typing_indicator": {"type": "audio"}},
    {"to": STRANGER, "type": "text", "text": {"body": "no product"}},
], ids=["template-without-language", "empty-text", "no-recipient", "read-without-wamid",
        "unknown-typing-type", "no-messaging-product"])
def test_fake_graph_refuses_bodies_graph_refuses_with_error_100(
    graph: FakeGraph, body: dict[str, object]
) -> None:
    resp = httpx.post(f"{graph.base_url}/{API_VERSION}/{PHONE_NUMBER_ID}/messages", json=body,
                      headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == 100
    assert graph.sent == [] and graph.reads == []


async def test_status_webhooks_arrive_one_per_status_and_are_recorded(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        graph.webhook_url = h.url
        await h.channel.send(STRANGER, "hi")
        [sent] = graph.sent

        def recorded() -> list[str]:
            assert h.channel.deliveries is not None
            return [s.status for s in h.channel.deliveries.for_message("whatsapp", sent.wamid)]

        for _ in range(500):
            if len(recorded()) == 2:
                break
            await asyncio.sleep(0.01)
        assert recorded() == ["sent", "delivered"]


async def test_a_webhook_of_statuses_is_one_transaction_without_fsync(
    graph: FakeGraph, isolated_home: Path
) -> None:
    wamid = new_wamid()
    async with running_channel(graph, isolated_home) as h:
        assert h.channel.deliveries is not None
        db = h.channel.deliveries.db
        await db.write(lambda conn: None)  # start the group-commit writer
        statements: list[str] = []
        assert db.writer is not None and db.writer.conn is not None
        conn: sqlite3.Connection = db.writer.conn
        conn.set_trace_callback(statements.append)
        payload = envelope(statuses=[status(wamid, STRANGER, s)
                                     for s in ("sent", "delivered", "read")])
        assert (await h.post(payload)).status_code == 200
        conn.set_trace_callback(None)
    assert statements.count("BEGIN IMMEDIATE") == 1
    # synchronous=NORMAL for the commit: no fsync for bookkeeping.
    assert statements.index("PRAGMA synchronous=NORMAL") < statements.index("BEGIN IMMEDIATE")


async def test_errors_reported_in_a_webhook_are_logged_with_their_code(
    graph: FakeGraph, isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    payload = envelope(errors=[error_item(131000, "Something went wrong",
                                          "An unknown error occurred")])
    async with running_channel(graph, isolated_home) as h:
        with caplog.at_level(logging.WARNING, "assistant_cli"):
            assert (await h.post(payload)).status_code == 200
        assert "whatsapp.webhook_error" in h.event_names()
        assert h.stored() == []
    assert "131000" in caplog.text and "An unknown error occurred" in caplog.text


async def test_user_without_a_shown_number_is_stored_and_answered_by_business_scoped_id(
    graph: FakeGraph, isolated_home: Path
) -> None:
    wamid = new_wamid()
    async with running_channel(graph, isolated_home) as h:
        resp = await h.post(text_payload(None, "hello", wamid=wamid, name="Ada",
                                         user_id=HIDDEN))
        assert resp.status_code == 200
        assert h.stored() == [(wamid, HIDDEN, "Ada", "text", "hello")]
        await h.channel.send(HIDDEN, "hi Ada")
    [sent] = graph.sent
    assert sent.body["recipient"] == HIDDEN and "to" not in sent.body


async def test_a_number_is_preferred_to_the_business_scoped_id_when_both_are_given(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        assert (await h.post(text_payload(STRANGER, "hi", user_id=HIDDEN))).status_code == 200
        assert [row[1] for row in h.stored()] == [STRANGER]  # same id as before usernames


def test_pairing_approve_accepts_a_business_scoped_id(isolated_home: Path) -> None:
    code = PairingStore(Database(resolve().database)).request_code("whatsapp", HIDDEN, HIDDEN)
    assert code is not None
    result = CliRunner().invoke(app, ["pairing", "approve", "--platform", "whatsapp",
                                      "--user-id", HIDDEN, "--code", code])
    assert result.exit_code == 0, result.output
    assert PairingStore(Database(resolve().database)).is_approved("whatsapp", HIDDEN)


def test_ids_and_numbers_written_without_quotes_are_read_as_text() -> None:
    # Ids pasted from WhatsApp Manager are numbers to YAML; "+1555..." unquoted is one too.
    text = ("platforms:\n  whatsapp:\n    business_id: 102290129340398\n"
            "    phone_number: +15550100000\n    phone_number_id: 106540352242922\n"
            "    allow_from: [15551234567]\n")
    wa = validate_document(parse_document(text, "c.yaml"), "c.yaml").platforms.whatsapp
    assert wa is not None
    assert (wa.business_id, wa.phone_number, wa.phone_number_id, wa.allow_from) == (
        "102290129340398", "15550100000", "106540352242922", ["15551234567"])


def test_graph_calls_take_the_proxy_from_the_environment_unless_no_proxy_says_otherwise(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    graph = GraphClient("https://graph.facebook.com", API_VERSION, PHONE_NUMBER_ID, "t")
    assert graph._proxy == "http://proxy.internal:3128"
    monkeypatch.setenv("NO_PROXY", "graph.facebook.com")
    graph = GraphClient("https://graph.facebook.com", API_VERSION, PHONE_NUMBER_ID, "t")
    assert graph._proxy is None


async def test_graph_that_accepts_but_never_answers_is_a_clear_timeout_error() -> None:
    answered = asyncio.Event()  # never set: the request is read and left unanswered
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(65536)
        await answered.wait()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = GraphClient(f"http://127.0.0.1:{port}", API_VERSION, PHONE_NUMBER_ID,
                         ACCESS_TOKEN, timeout=0.2, backoff=())
    try:
        with pytest.raises(GraphError) as caught:
            await client.send_text(STRANGER, "anyone there?")
    finally:
        await client.aclose()
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
    assert caught.value.status is None and caught.value.retryable
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "no answer within the timeout" in caught.value.message
