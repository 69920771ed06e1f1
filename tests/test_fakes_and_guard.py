"""Tests for the loopback network guard and the fake OpenAI server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import netguard
from tests.fakes.openai_server import (
    Error,
    FakeOpenAI,
    Hang,
    HangAfter,
    Reply,
    split_tokens,
)

# TEST-NET-3 (RFC 5737): never routed, so even a guard failure could not reach anyone.
BLOCKED_HOST = "203.0.113.1"
BLOCKED_PORT = 443
BLOCKED_MESSAGE = f"network access outside loopback blocked in tests: {BLOCKED_HOST}:443"
BLOCKED_RE = re.escape(BLOCKED_MESSAGE)
GUARD_DIR = Path(__file__).resolve().parent / "guard"
KEY = "sk-test-key"


@pytest.fixture(autouse=True, scope="module")
def _guard() -> Iterator[None]:
    netguard.install()
    try:
        yield
    finally:
        netguard.uninstall()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _client(**kwargs: Any) -> httpx.Client:
    # trust_env=False: a proxy from the environment would change which host is dialled.
    return httpx.Client(trust_env=False, timeout=5, **kwargs)


def _auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _find_blocked(exc: BaseException) -> BaseException | None:
    """The guard error, possibly wrapped in an exception group or as a cause."""
    if isinstance(exc, netguard.NetworkBlockedError):
        return exc
    # anyio's happy-eyeballs connect runs in a task group, so async httpx can
    # surface the guard error inside an ExceptionGroup.
    for inner in getattr(exc, "exceptions", ()):
        found = _find_blocked(inner)
        if found is not None:
            return found
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            found = _find_blocked(linked)
            if found is not None:
                return found
    return None


def _sse_payloads(body: str) -> list[str]:
    events = [event for event in body.split("\n\n") if event]
    assert all(event.startswith("data: ") for event in events), events
    return [event[len("data: ") :] for event in events]


# ------------------------------------------------------------------ guard


def test_guard_blocks_socket_connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match=BLOCKED_RE):
            sock.connect((BLOCKED_HOST, BLOCKED_PORT))
        with pytest.raises(RuntimeError, match=BLOCKED_RE):
            sock.connect_ex((BLOCKED_HOST, BLOCKED_PORT))


def test_guard_blocks_create_connection_and_resolution() -> None:
    with pytest.raises(RuntimeError, match=BLOCKED_RE):
        socket.create_connection((BLOCKED_HOST, BLOCKED_PORT), timeout=1)
    with pytest.raises(RuntimeError, match=re.escape("blocked in tests: example.com:443")):
        socket.getaddrinfo("example.com", 443)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(RuntimeError):
        sock.connect(("2001:db8::1", 443, 0, 0))


def test_guard_blocks_unconnected_udp() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(RuntimeError):
        sock.sendto(b"x", (BLOCKED_HOST, 53))


def test_guard_allows_loopback_and_unix() -> None:
    for host in ("localhost", "127.0.0.1", "127.5.6.7", "::1", "[::1]", "::ffff:127.0.0.1"):
        assert netguard.is_loopback_host(host), host
    for host in ("example.com", "10.0.0.1", "foo.localhost", BLOCKED_HOST):
        assert not netguard.is_loopback_host(host), host
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        socket.create_connection(("localhost", port), timeout=1).close()
    left, right = socket.socketpair()
    left.close()
    right.close()


def test_guard_blocks_httpx_sync() -> None:
    with _client() as client, pytest.raises(RuntimeError, match=BLOCKED_RE):
        client.get(f"https://{BLOCKED_HOST}/")


async def test_guard_blocks_httpx_async() -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
        with pytest.raises(BaseException) as info:
            await client.get(f"https://{BLOCKED_HOST}/")
    found = _find_blocked(info.value)
    assert found is not None, repr(info.value)
    assert str(found) == BLOCKED_MESSAGE


async def test_guard_blocks_asyncio_selector_sock_connect() -> None:
    # The selector loop calls sock.connect() on a non-blocking socket internally.
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        with pytest.raises(RuntimeError, match=BLOCKED_RE):
            await loop.sock_connect(sock, (BLOCKED_HOST, BLOCKED_PORT))
    with pytest.raises(RuntimeError, match=BLOCKED_RE):
        await asyncio.open_connection(BLOCKED_HOST, BLOCKED_PORT)


def test_guard_uninstall_is_reference_counted() -> None:
    netguard.install()
    netguard.uninstall()
    # The module fixture's install is still in force.
    assert netguard.is_installed()
    with pytest.raises(RuntimeError):
        socket.create_connection((BLOCKED_HOST, BLOCKED_PORT), timeout=1)


def test_guard_in_subprocess_via_sitecustomize() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(GUARD_DIR)
    code = "import socket; socket.create_connection(('203.0.113.1', 443), timeout=1)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode != 0
    assert "RuntimeError" in proc.stderr or "NetworkBlockedError" in proc.stderr
    assert BLOCKED_MESSAGE in proc.stderr
    assert proc.stdout == ""


def test_guard_subprocess_is_silent_and_allows_loopback() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(GUARD_DIR)
    code = "import socket; print(len(socket.getaddrinfo('127.0.0.1', 80)) > 0)"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True\n"
    assert proc.stderr == ""


# ------------------------------------------------------------ fake server


def test_streaming_chunks_follow_openai_sse(fake: FakeOpenAI) -> None:
    fake.reply = lambda messages: "Hello there, world!"
    request = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with _client() as client:
        response = client.post(f"{fake.base_url}/chat/completions", json=request, headers=_auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = _sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]

    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "fake-model"
        assert isinstance(c["created"], int)

    role, *content, final, usage = chunks
    assert role["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    tokens = [c["choices"][0]["delta"]["content"] for c in content]
    assert tokens == split_tokens("Hello there, world!") == ["Hello ", "there, ", "world!"]
    assert all(c["choices"][0]["finish_reason"] is None for c in content)
    assert final["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 3
    assert usage["usage"]["total_tokens"] == (
        usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"]
    )
    # Documented: with include_usage every other chunk carries "usage": null.
    assert all(c["usage"] is None for c in chunks[:-1])

    assert fake.wait_for_requests(1, timeout=1)
    assert fake.requests[0].body == request
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_streaming_without_usage_and_default_echo(fake: FakeOpenAI) -> None:
    request = {"model": "fake-model", "messages": [{"role": "user", "content": "ping"}]}
    with _client() as client:
        streamed = client.post(
            f"{fake.base_url}/chat/completions", json={**request, "stream": True}, headers=_auth()
        )
        plain = client.post(f"{fake.base_url}/chat/completions", json=request, headers=_auth())
    payloads = _sse_payloads(streamed.text)
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert payloads[-1] == "[DONE]"
    assert "usage" not in chunks[-1]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "echo: ping"

    body = plain.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: ping"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert fake.user_messages() == ["ping", "ping"]


def test_wrong_key_gets_401(fake: FakeOpenAI) -> None:
    request = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    with _client() as client:
        wrong = client.post(
            f"{fake.base_url}/chat/completions", json=request, headers=_auth("sk-wrong-key-1234")
        )
        missing = client.post(f"{fake.base_url}/chat/completions", json=request)
        models = client.get(f"{fake.base_url}/models", headers=_auth("nope"))
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_api_key"
    assert "sk-wrong-key-1234" not in error["message"]
    assert missing.status_code == 401
    assert models.status_code == 401
    # Rejected requests are still recorded: tests may count attempts.
    assert len(fake.requests) == 2


def test_api_key_none_disables_auth_and_models_endpoint(fake: FakeOpenAI) -> None:
    fake.api_key = None
    with _client() as client:
        response = client.get(f"{fake.base_url}/models")
    assert response.status_code == 200
    listing = response.json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["fake-model"]
    assert listing["data"][0]["object"] == "model"
    assert listing["data"][0]["owned_by"] == "fake"


def test_strict_model_gives_404(fake: FakeOpenAI) -> None:
    fake.strict_model = True
    request = {"model": "gpt-nope", "messages": [{"role": "user", "content": "hi"}]}
    with _client() as client:
        response = client.post(f"{fake.base_url}/chat/completions", json=request, headers=_auth())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert "gpt-nope" in error["message"]


def test_scripted_errors_and_replies_in_order(fake: FakeOpenAI) -> None:
    fake.script = [
        Error.rate_limited(retry_after=2),
        Error.insufficient_quota(),
        Error(500, {"error": {"message": "boom", "type": "server_error"}}),
        Reply("scripted"),
    ]
    request = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    url = f"{fake.base_url}/chat/completions"
    with _client() as client:
        limited = client.post(url, json=request, headers=_auth())
        quota = client.post(url, json=request, headers=_auth())
        boom = client.post(url, json=request, headers=_auth())
        scripted = client.post(url, json=request, headers=_auth())
        default = client.post(url, json=request, headers=_auth())

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert quota.status_code == 429
    assert "retry-after" not in quota.headers
    assert quota.json()["error"]["type"] == "insufficient_quota"
    assert boom.status_code == 500
    assert scripted.json()["choices"][0]["message"]["content"] == "scripted"
    assert default.json()["choices"][0]["message"]["content"] == "echo: hi"


def test_hang_after_streams_n_tokens_then_stalls(fake: FakeOpenAI) -> None:
    fake.enqueue(HangAfter(2, "one two three four"))
    request = {"model": "fake-model", "messages": [], "stream": True}
    received: list[str] = []
    started = time.monotonic()
    with (
        _client() as client,
        client.stream(
            "POST",
            f"{fake.base_url}/chat/completions",
            json=request,
            headers=_auth(),
            timeout=httpx.Timeout(2, read=0.5),
        ) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            for line in response.iter_lines():
                if line:
                    received.append(line)
    assert time.monotonic() - started < 2
    chunks = [json.loads(line[len("data: ") :]) for line in received]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:]] == ["one ", "two "]


def test_hang_is_cut_off_by_stop() -> None:
    fake = FakeOpenAI(script=[Hang()]).start()
    try:
        with _client() as client, pytest.raises(httpx.ReadTimeout):
            client.post(
                f"{fake.base_url}/chat/completions",
                json={"model": "fake-model", "messages": []},
                headers=_auth(),
                timeout=httpx.Timeout(2, read=0.3),
            )
    finally:
        started = time.monotonic()
        fake.stop()
    assert time.monotonic() - started < 1


async def test_usable_from_async_tests_with_token_delay(fake: FakeOpenAI) -> None:
    fake.token_delay = 0.01
    fake.reply = lambda messages: "a b c"
    request = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
    }
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        response = await client.post(
            f"{fake.base_url}/chat/completions", json=request, headers=_auth()
        )
    payloads = _sse_payloads(response.text)
    text = "".join(json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1])
    assert text == "a b c"


def test_restart_keeps_port() -> None:
    fake = FakeOpenAI().start()
    base_url = fake.base_url
    fake.stop()
    fake.start()
    try:
        assert fake.base_url == base_url
        with _client() as client:
            assert client.get(f"{base_url}/models", headers=_auth()).status_code == 200
    finally:
        fake.stop()
