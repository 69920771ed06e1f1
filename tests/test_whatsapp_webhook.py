"""The WhatsApp webhook on the gateway: handshake, signatures, limits, parsing, storing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant_cli.channels.whatsapp_inbound import parse_payload
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.store.delivery import DeliveryLog
from tests.fakes.whatsapp_server import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    FailLater,
    FakeGraph,
    envelope,
    failed_status,
    image_payload,
    message_payload,
    new_wamid,
    sign,
    status,
    text_payload,
)
from tests.whatsapp_support import running_channel

STRANGER = "15550001111"

UNSUPPORTED = texts.unsupported(translator("en"))


async def until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


async def test_handshake_echoes_the_challenge_for_the_right_verify_token(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        resp = await h.client.get(h.url, params={
            "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444"})
        assert resp.status_code == 200
        assert resp.text == "1158201444"


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"},
    {"hub.mode": "subscribe", "hub.challenge": "42"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
], ids=["wrong-token", "no-token", "wrong-mode"])
async def test_handshake_with_a_wrong_token_or_mode_is_403_without_the_challenge(
    graph: FakeGraph, isolated_home: Path, params: dict[str, str]
) -> None:
    async with running_channel(graph, isolated_home) as h:
        resp = await h.client.get(h.url, params=params)
        assert resp.status_code == 403
        assert "42" not in resp.text


async def test_signed_text_message_is_stored_before_the_200(
    graph: FakeGraph, isolated_home: Path
) -> None:
    wamid = new_wamid()
    async with running_channel(graph, isolated_home) as h:
        resp = await h.post(text_payload(STRANGER, "hello there", wamid=wamid, name="Ada"))
        assert resp.status_code == 200
        assert h.stored() == [(wamid, STRANGER, "Ada", "text", "hello there")]
        assert await h.inbox.claim() is not None  # queued for a worker


@pytest.mark.parametrize("kind", ["missing", "garbage", "other-secret", "tampered-body"])
async def test_bad_or_missing_signature_is_401_and_nothing_is_stored(
    graph: FakeGraph, isolated_home: Path, kind: str
) -> None:
    raw = json.dumps(text_payload(STRANGER, "let me in")).encode()
    headers = {"Content-Type": "application/json"}
    if kind == "garbage":
        headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    elif kind == "other-secret":
        headers["X-Hub-Signature-256"] = sign(raw, "not-the-app-secret")
    elif kind == "tampered-body":
        headers["X-Hub-Signature-256"] = sign(raw, APP_SECRET)
        raw = raw.replace(b"let me in", b"let me in!")
    async with running_channel(graph, isolated_home) as h:
        resp = await h.client.post(h.url, content=raw, headers=headers)
        assert resp.status_code == 401
        assert h.stored() == []


async def test_same_delivery_twice_is_acknowledged_twice_and_stored_once(
    graph: FakeGraph, isolated_home: Path
) -> None:
    payload = text_payload(STRANGER, "only once please")
    async with running_channel(graph, isolated_home) as h:
        first, second = await h.post(payload), await h.post(payload)
        assert (first.status_code, second.status_code) == (200, 200)
        assert len(h.stored()) == 1


async def test_malformed_json_is_400_and_nothing_is_stored(
    graph: FakeGraph, isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_channel(graph, isolated_home) as h:
        with caplog.at_level(logging.WARNING, "assistant_cli"):
            resp = await h.post(b'{"object": "whatsapp_business_account", "entry": [')
        assert resp.status_code == 400
        assert h.stored() == []
        assert "not JSON" in caplog.text


async def test_json_that_is_not_a_whatsapp_webhook_is_400(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        for body in ([1, 2], {"object": "page", "entry": []},
                     {"object": "whatsapp_business_account"}):
            assert (await h.post(body)).status_code == 400
        assert h.stored() == []


async def test_payload_for_another_phone_number_id_is_ignored_and_logged(
    graph: FakeGraph, isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_channel(graph, isolated_home) as h:
        with caplog.at_level(logging.WARNING, "assistant_cli"):
            resp = await h.post(text_payload(STRANGER, "wrong number",
                                             phone_number_id="999999999999999"))
        assert resp.status_code == 200  # ours to ignore, not Meta's to redeliver
        assert h.stored() == []
        assert "999999999999999" in caplog.text


async def test_oversized_body_is_413_and_nothing_is_stored(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home, max_body=4096) as h:
        resp = await h.post(text_payload(STRANGER, "x" * 5000))
        assert resp.status_code == 413
        assert (await h.post(text_payload(STRANGER, "short"))).status_code == 200
        assert [row[4] for row in h.stored()] == ["short"]


async def test_image_is_stored_as_an_image_so_the_engine_answers_text_only(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        assert (await h.post(image_payload(STRANGER, caption="look"))).status_code == 200
        assert [(r[3], r[4]) for r in h.stored()] == [("image", "look")]
    assert "text" in UNSUPPORTED


def test_unknown_types_are_marked_unsupported_and_reactions_are_not_questions() -> None:
    unknown = message_payload(STRANGER, {"type": "unsupported", "errors": [
        {"code": 131051, "title": "Message type unknown"}]})
    location = message_payload(STRANGER, {"type": "location", "location": {
        "latitude": 52.52, "longitude": 13.40}})
    button = message_payload(STRANGER, {"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": "yes", "title": "Yes please"}}})
    reaction = message_payload(STRANGER, {"type": "reaction", "reaction": {
        "message_id": new_wamid(), "emoji": "👍"}})
    kinds = [[(m.kind, m.text) for m in parse_payload(p, PHONE_NUMBER_ID).messages]
             for p in (unknown, location, button, reaction)]
    assert kinds == [[("unsupported", "")], [("location", "")], [("text", "Yes please")], []]


async def test_status_callbacks_are_recorded_once_and_failures_logged_with_their_code(
    graph: FakeGraph, isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wamid = new_wamid()
    delivered = envelope(statuses=[status(wamid, STRANGER, "sent"),
                                   status(wamid, STRANGER, "delivered")])
    failed = envelope(statuses=[failed_status(new_wamid(), STRANGER, 131026,
                                              "Message undeliverable")])
    async with running_channel(graph, isolated_home) as h:
        with caplog.at_level(logging.WARNING, "assistant_cli"):
            for payload in (delivered, delivered, failed):
                assert (await h.post(payload)).status_code == 200
        log = DeliveryLog(h.db)
        assert [s.status for s in log.for_message("whatsapp", wamid)] == ["sent", "delivered"]
        failures = log.failures("whatsapp")
        assert [(f.error_code, f.recipient_id) for f in failures] == [(131026, STRANGER)]
        assert "131026" in caplog.text
        assert "whatsapp.delivery_failed" in h.event_names()
        assert h.stored() == []  # statuses are not questions


async def test_webhook_before_the_channel_runs_is_503_so_meta_redelivers(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home, start=False) as h:
        assert (await h.post(text_payload(STRANGER, "too early"))).status_code == 503
        assert h.stored() == []


async def test_window_closed_reported_by_status_webhook_sends_the_template_once(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home, template="hello_again") as h:
        graph.webhook_url = h.url
        graph.script.extend([FailLater(131047), FailLater(131047)])
        await h.channel.send(STRANGER, "first part")
        await h.channel.send(STRANGER, "second part")

        def settled() -> bool:
            # Both failures recorded and every reaction to them finished.
            return len(DeliveryLog(h.db).failures("whatsapp")) == 2 and not h.channel._tasks

        assert await until(settled)
        templates = [s for s in graph.sent if s.type == "template"]
        assert [(t.to, t.text) for t in templates] == [(STRANGER, "hello_again")]


async def test_webhook_rejects_get_without_parameters_and_other_methods(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        assert (await h.client.get(h.url)).status_code == 403
        assert (await h.client.put(h.url, content=b"{}")).status_code == 405


def test_signature_helper_matches_the_channel(graph: FakeGraph) -> None:
    from assistant_cli.channels.whatsapp_webhook import signature

    assert signature(APP_SECRET, b"{}") == sign(b"{}", APP_SECRET)
