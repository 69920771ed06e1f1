"""The REST adapters' httpx client over aiohttp: same answers, same classified failures."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from assistant_cli.config.models import ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.aiohttp_transport import AiohttpTransport
from assistant_cli.providers.base import ChatRequest, TextDelta
from assistant_cli.providers.http import sse_lines
from assistant_cli.providers.openai import OpenAIProvider

REQUEST = ChatRequest((ChatTurn("user", "hello"),))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


def _provider(base_url: str, timeout: float = 5.0) -> OpenAIProvider:
    cfg = ProviderConfig(base_url=base_url, model="m", api_key="env:K", timeout=timeout)
    return OpenAIProvider("svc", cfg, lambda ref, where: "sk-key")


def _chunk(text: str) -> bytes:
    body = {"model": "m", "choices": [{"delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(body)}\n\n".encode()


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        runner, url = await _serve(handler)
        runners.append(runner)
        return url

    yield start
    for runner in runners:
        await runner.cleanup()


def test_a_provider_uses_aiohttp_unless_a_proxy_is_configured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(_provider("http://127.0.0.1:9/v1")._network(True), AiohttpTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert _provider("https://api.example.com/v1")._network(True) is None  # httpx's own
    monkeypatch.setenv("NO_PROXY", "api.example.com")
    assert isinstance(_provider("https://api.example.com/v1")._network(True), AiohttpTransport)


async def test_request_headers_body_and_streamed_answer(server: Callable[[Handler],
                                                                         Awaitable[str]]) -> None:
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.update(auth=request.headers.get("Authorization"), body=await request.json(),
                    path=request.path, ua=request.headers.get("User-Agent"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for word in ("one ", "two"):
            await response.write(_chunk(word))
            await asyncio.sleep(0.01)
        await response.write(b"data: [DONE]\n\n")
        return response

    provider = _provider(await server(handler))
    events = [e async for e in provider.stream(REQUEST)]
    await provider.aclose()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two"]
    assert seen["auth"] == "Bearer sk-key" and seen["path"] == "/v1/chat/completions"
    assert str(seen["ua"]).startswith("python-httpx/")  # httpx's headers, none of aiohttp's
    assert isinstance(seen["body"], dict) and seen["body"]["messages"][0]["content"] == "hello"


async def test_a_compressed_answer_is_decoded_once(server: Callable[[Handler],
                                                                   Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        body = gzip.compress(json.dumps({"data": [{"id": "m1"}, {"id": "m2"}]}).encode())
        return web.Response(body=body, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})

    provider = _provider(await server(handler))
    assert await provider.list_models() == ["m1", "m2"]
    await provider.aclose()


async def test_redirects_are_not_followed(server: Callable[[Handler], Awaitable[str]]) -> None:
    transport = AiohttpTransport()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    url = await server(handler)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(url + "/models")
    assert response.status_code == 302 and response.headers["location"] == "/elsewhere"


async def test_a_connection_dropped_mid_answer_is_a_network_error(
        server: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk("half"))
        assert request.transport is not None
        request.transport.abort()  # the service goes away mid-answer
        return response

    provider = _provider(await server(handler))
    with pytest.raises(ProviderError) as info:
        [e async for e in provider.stream(REQUEST)]
    await provider.aclose()
    assert info.value.kind == "network" and "dropped" in info.value.message


async def test_silence_past_the_timeout_is_a_timeout(server: Callable[[Handler],
                                                                     Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk("slow"))
        await asyncio.sleep(2)
        return response

    provider = _provider(await server(handler), timeout=0.3)
    with pytest.raises(ProviderError) as info:
        [e async for e in provider.stream(REQUEST)]
    await provider.aclose()
    assert info.value.kind == "network" and "timed out" in info.value.message


async def test_nothing_listening_is_could_not_connect() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = _provider(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ProviderError) as info:
        [e async for e in provider.stream(REQUEST)]
    await provider.aclose()
    assert info.value.kind == "network"
    assert f"could not connect to 127.0.0.1:{port}" in info.value.message


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


async def _lines(chunks: list[bytes]) -> list[str]:
    return [line async for line in sse_lines(httpx.Response(200, stream=_Chunks(chunks)))]


async def test_event_stream_lines_end_at_crlf_lf_or_cr_across_chunks() -> None:
    assert await _lines([b"a\r", b"\nb\rc\n\n", b"d"]) == ["a", "b", "c", "", "d"]
    assert await _lines([b"x\r"]) == ["x"]
    assert await _lines([b""]) == []


async def test_event_stream_lines_are_utf8_and_keep_unicode_separators() -> None:
    # U+2028 split across two chunks, inside JSON data: not a line end in an event stream.
    assert await _lines([b'data: {"t": "\xe2\x80', b'\xa8"}\n\n']) == [
        'data: {"t": "\u2028"}', ""]
