"""The gateway's /ws against a real engine: refusals, lockout, limits, every method, events."""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from assistant_cli.domain.events import LogRecorded
from assistant_cli.gateway.tokens import ISSUER, SigningKey, mint
from assistant_cli.store.audit import AuditLog, key_from_store
from tests.fakes.openai_server import Error, FakeOpenAI
from tests.gateway_harness import Harness, connected, live_gateway, wait_until


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def _refused(h: Harness, *, token: str | None = None, query: str = "",
                   origin: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if origin:
        headers["Origin"] = origin
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(h.ws_url + query, headers=headers)
    exc = info.value
    return exc.status, exc.headers.get("X-Assistant-Error", "") if exc.headers else ""


async def test_missing_expired_forged_wrong_audience_and_alg_none_tokens_get_401(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    import jwt

    async with live_gateway(tmp_path, fake) as h:
        key = h.control.keys.current
        now = int(time.time())
        cases = {
            "missing_token": None,
            "token_expired": mint(key, "a", 60, now=now - 600),
            "bad_signature": mint(SigningKey(key.kid, "z" * 43), "a", 60),
            "wrong_audience": jwt.encode({"sub": "a", "aud": "other", "iat": now,
                                          "iss": ISSUER, "exp": now + 60}, key.secret,
                                         algorithm="HS256",
                                         headers={"kid": key.kid}),
            "bad_algorithm": jwt.encode({"sub": "a", "aud": "x", "iat": now, "exp": now + 60},
                                        "", algorithm="none"),
        }
        for code, token in cases.items():
            status, why = await _refused(h, token=token)
            assert (status, why) == (401, code)


async def test_token_in_the_query_string_is_accepted(tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake) as h, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{h.ws_url}?token={h.token()}")
        hello = await ws.receive_json(timeout=5)
        assert hello["event"] == "hello" and hello["data"]["sub"] == "tester"
        await ws.close()


async def test_browser_origin_outside_the_allow_list_gets_403(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake, allowed_origins=["https://ops.example"]) as h:
        status, why = await _refused(h, token=h.token(), origin="https://evil.example")
        assert status == 403 and why == "bad_origin"
        async with aiohttp.ClientSession() as session:
            for origin in ("https://ops.example", h.base_url):  # listed, and same-origin
                ws = await session.ws_connect(h.ws_url, headers={
                    "Authorization": f"Bearer {h.token()}", "Origin": origin})
                await ws.close()


async def test_repeated_failures_lock_the_address_out_even_for_a_good_token(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake, lockout_failures=3, lockout_seconds=60) as h:
        for _ in range(3):
            status, _ = await _refused(h, token="garbage")
            assert status == 401
        status, why = await _refused(h, token=h.token())
        assert status == 429 and why == "locked_out"


async def _handshake(h: Harness, token: str, forwarded: str | None = None
                     ) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(h.ws_url, headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status, dict(exc.headers or {})
        await ws.close()
        return 101, {}


async def test_locked_out_429_says_when_to_retry(tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake, lockout_failures=2, lockout_seconds=30) as h:
        for _ in range(2):
            assert (await _handshake(h, "garbage"))[0] == 401
        status, headers = await _handshake(h, h.token())
        assert status == 429 and 29 <= int(headers["Retry-After"]) <= 31


async def test_behind_a_trusted_proxy_the_lockout_keys_on_the_forwarded_client(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake, lockout_failures=3, lockout_seconds=60,
                            trusted_proxies=["127.0.0.1", "10.0.0.0/8"]) as h:
        for _ in range(3):  # a stranger behind nginx (and a second proxy hop) guesses
            assert (await _handshake(h, "garbage", "203.0.113.9, 10.1.2.3"))[0] == 401
        assert (await _handshake(h, h.token(), "203.0.113.9"))[0] == 429
        assert (await _handshake(h, h.token(), "198.51.100.7"))[0] == 101  # the owner
        # A client cannot pick its own key by prepending to the header: the proxy appends.
        assert (await _handshake(h, h.token(), "198.51.100.7, 203.0.113.9"))[0] == 429


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake, lockout_failures=3, lockout_seconds=60) as h:
        for n in range(3):  # rotating the header does not escape the lockout
            assert (await _handshake(h, "garbage", f"203.0.113.{n}"))[0] == 401
        assert (await _handshake(h, h.token(), "198.51.100.7"))[0] == 429


async def test_oversized_frame_closes_the_connection(tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake, max_frame_bytes=2048) as h, \
            aiohttp.ClientSession() as session:
        ws = await session.ws_connect(h.ws_url, headers={"Authorization": f"Bearer {h.token()}"})
        await ws.send_str('{"type":"req","id":1,"method":"ping","params":{"x":"'
                          + "x" * 4096 + '"}}')
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert ws.close_code == 1009


async def test_every_method_answers(tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake) as h, connected(h) as client:
        h.channel.feed("hello")
        await wait_until(lambda: client.named("message.out"), what="message.out")
        status = (await client.call("status"))["result"]
        assert status["ready"] is True and status["channels"]["telegram"]["ready"] is True
        assert status["subject"] == "tester" and status["clients"] == 1
        snapshot = (await client.call("metrics.snapshot"))["result"]
        assert snapshot["messages_total"] == 1 and snapshot["success_rate"] == 1.0
        assert snapshot["objectives"]["latency_p99_ms"] == 500.0
        providers = (await client.call("providers.status"))["result"]
        assert providers["providers"][0]["name"] == "fake"
        assert providers["providers"][0]["state"] == "ok"
        assert (await client.call("pairing.list"))["result"] == {"pending": [], "approved": []}
        lines = (await client.call("logs.tail", {"n": 50, "level": "info"}))["result"]["lines"]
        assert any(line["event"] == "message.done" for line in lines)
        assert (await client.call("ping"))["ok"] is True
        unknown = await client.call("no.such")
        assert unknown["ok"] is False and unknown["error"]["code"] == "unknown_method"
        bad = await client.call("logs.tail", {"level": "loud"})
        assert bad["error"]["code"] == "bad_params"


async def test_pairing_approve_and_deny_through_the_gateway_are_audited(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h, connected(h, h.token("ops")) as client:
        h.channel.feed("hi", sender="200", name="Ada")
        h.channel.feed("hi", sender="300", name="Bob")
        await wait_until(lambda: len(client.named("pairing.requested")) == 2, what="requests")
        pending = (await client.call("pairing.list"))["result"]["pending"]
        assert {(p["user_id"], p["name"]) for p in pending} == {("200", "Ada"), ("300", "Bob")}
        wrong = await client.call("pairing.approve",
                                  {"platform": "telegram", "user_id": "200", "code": "AAAA"})
        assert wrong["ok"] is False and "wrong pairing code" in wrong["error"]["message"]
        code = h.channel.pairing_code("200")
        ok = await client.call("pairing.approve",
                               {"platform": "telegram", "user_id": "200", "code": code})
        assert ok["result"]["approved"] is True and h.pairing.is_approved("telegram", "200")
        await wait_until(lambda: client.named("pairing.approved"), what="pairing.approved")
        denied = await client.call("pairing.deny", {"platform": "telegram", "user_id": "300"})
        assert denied["result"]["denied"] is True
        await wait_until(lambda: client.named("pairing.denied"), what="pairing.denied")
        audit = AuditLog(h.db, key_from_store(h.secrets))
        entries = [(e.actor, e.action, e.target, e.outcome) for e in audit.entries()]
        assert entries == [("token:ops", "pairing.approve", "telegram:200", "refused"),
                           ("token:ops", "pairing.approve", "telegram:200", "ok"),
                           ("token:ops", "pairing.deny", "telegram:300", "ok")]
        assert audit.verify()[0]


async def test_message_text_reaches_clients_only_when_the_owner_allows_it(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    for expose in (False, True):
        async with live_gateway(tmp_path / str(expose), fake, expose_message_text=expose) as h, \
                connected(h) as client:
            h.channel.feed("secret plans")
            out = await wait_until(functools.partial(client.named, "message.out"),
                                   what="message.out")
            inbound = client.named("message.in")[0]["data"]
            assert inbound["length"] == len("secret plans")
            assert out[0]["data"]["latency_ms"] > 0
            assert ("text" in inbound) is expose
            if expose:
                assert out[0]["data"]["text"] == "echo: secret plans"


async def test_events_carry_increasing_seq_and_metrics_arrive_every_second(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.enqueue(Error.invalid_api_key())
    async with live_gateway(tmp_path, fake) as h, connected(h) as client:
        h.channel.feed("one")
        await wait_until(lambda: client.named("provider.error"), what="provider.error")
        await wait_until(lambda: len(client.named("metrics")) >= 2, timeout=4, what="metrics")
        seqs = [e["seq"] for e in client.events]
        assert seqs == list(range(1, len(seqs) + 1))
        assert client.named("provider.error")[0]["data"]["kind"] == "auth"
        assert client.named("log"), "log lines are streamed"


async def test_garbage_and_half_open_clients_never_block_message_handling(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant_cli.gateway import websocket

    monkeypatch.setattr(websocket, "SEND_TIMEOUT", 0.5)
    async with live_gateway(tmp_path, fake) as h:
        token = h.token()
        port = h.gateway.port
        assert port is not None
        # 1. A client that completes the upgrade and then never reads a byte.
        stuck = socket.create_connection(("127.0.0.1", port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
                       ).encode())
        # 2. A client that sends bytes that are not HTTP at all, then hangs.
        junk = socket.create_connection(("127.0.0.1", port))
        junk.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        async with connected(h) as client:
            # 3. Frames that are not requests.
            for bad in ("not json", "[]", '{"type":"req"}', '{"type":"res","id":"x"}'):
                await client.ws.send_str(bad)
            await client.ws.send_bytes(b"\x00\x01")
            await wait_until(lambda: sum(1 for r in client.responses.values()
                                         if not r["ok"]) >= 1, what="error responses")
            # Flood the bus (about 16 MB) so the stuck client's socket buffers fill up.
            for burst in range(40):
                for i in range(200):
                    h.events.publish(LogRecorded(record={
                        "ts": "", "level": "INFO", "logger": "x", "event": "flood",
                        "msg": "x" * 2000, "fields": {"i": burst * 200 + i}}))
                await asyncio.sleep(0.01)
            started = time.monotonic()
            for i in range(5):
                h.channel.feed(f"q{i}")
            await wait_until(lambda: len(h.channel.replies) == 5, timeout=5, what="replies")
            took = time.monotonic() - started
            assert (await client.call("ping"))["ok"] is True
            # The stuck client fell behind (events dropped for it alone), then was cut off.
            await wait_until(lambda: len(h.control.sessions) == 1, timeout=5,
                             what="the stuck client to be cut off")
            # The reading client may have lost flood events (its queue is bounded too), but
            # it gets what happened after, in order.
            await wait_until(lambda: len(client.named("message.out")) == 5, what="events")
            seqs = [e["seq"] for e in client.events]
            assert seqs == sorted(set(seqs))
        stuck.close()
        junk.close()
        assert took < 3.0, f"five answers took {took:.2f} s with bad clients connected"


async def test_a_connection_whose_token_expires_is_closed(tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake) as h, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(h.ws_url, headers={
            "Authorization": f"Bearer {h.control.keys.mint('short', 1)}"})
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            msg = await ws.receive(timeout=6)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert ws.close_code == 4001


async def test_metrics_endpoint_and_index_page_answer_without_a_token(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h, aiohttp.ClientSession() as session:
        async with session.get(h.base_url + "/") as resp:
            assert resp.status == 200 and "assistant-cli dashboard" in await resp.text()
        async with session.get(h.base_url + "/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")


async def test_gateway_state_file_lives_while_serving(tmp_path: Path, fake: FakeOpenAI) -> None:
    import json

    async with live_gateway(tmp_path, fake) as h:
        state = json.loads((h.paths.state_dir / "gateway.json").read_text())
        assert state["url"] == h.base_url and state["tls"] is False
    assert not (h.paths.state_dir / "gateway.json").exists()
    await asyncio.sleep(0)


async def test_a_flooding_client_is_rate_limited_then_disconnected(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h, connected(h) as client:
        for i in range(400):
            await client.ws.send_str(f'{{"type":"req","id":{1000 + i},"method":"ping"}}')
        await wait_until(lambda: client.ws.closed, what="the disconnect")
        assert client.ws.close_code == 1008
        codes = {r["error"]["code"] for r in client.responses.values() if not r["ok"]}
        assert codes == {"rate_limited"}


async def test_own_origin_counts_only_on_a_loopback_address_not_a_rebound_name(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with live_gateway(tmp_path, fake) as h, aiohttp.ClientSession() as session:
        port = h.gateway.port
        # A page on evil.example whose DNS now points at 127.0.0.1: Host and Origin agree.
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(h.ws_url, headers={
                "Authorization": f"Bearer {h.token()}", "Host": f"evil.example:{port}",
                "Origin": f"http://evil.example:{port}"})
        assert info.value.status == 403
        ws = await session.ws_connect(h.ws_url, headers={
            "Authorization": f"Bearer {h.token()}", "Host": f"localhost:{port}",
            "Origin": f"http://localhost:{port}"})
        await ws.close()


async def test_readyz_is_503_when_the_check_itself_fails(tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake) as h, aiohttp.ClientSession() as session:
        def broken() -> dict[str, object]:
            raise OSError("disk I/O error in /home/someone/state.db")

        h.gateway.ready_check = broken
        async with session.get(h.base_url + "/readyz") as resp:
            assert resp.status == 503
            assert await resp.json() == {"ready": False, "error": "OSError"}


async def test_a_send_stuck_behind_a_finished_one_still_counts_as_stalled(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from assistant_cli.gateway import websocket

    monkeypatch.setattr(websocket, "SEND_TIMEOUT", 0.05)
    release = asyncio.Event()
    calls = 0

    async def send_str(text: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()  # the client stopped reading: this one never gets out

    session = websocket.Session(SimpleNamespace(send_str=send_str), None, {}, None,  # type: ignore[arg-type]
                                None, "?")  # type: ignore[arg-type]
    stuck = asyncio.create_task(session.send("event"))
    await asyncio.sleep(0)
    await session.send("answer")  # completes; must not hide the stuck one
    await wait_until(lambda: session.stalled(time.monotonic()), timeout=2, what="stalled")
    release.set()
    await stuck
    assert not session.stalled(time.monotonic() + 60)
