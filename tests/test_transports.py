"""Every outbound HTTP client takes its network layer from the caller: an httpx transport
(`httpx.MockTransport` in these tests) or an aiohttp connector (here one whose resolver
sends a made-up host name to a fake on 127.0.0.1, which only the injected connector knows).
"""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from assistant_cli.channels.whatsapp_graph import GraphClient
from assistant_cli.config.models import AuthConfig, ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.providers.anthropic import AnthropicProvider
from assistant_cli.providers.base import ChatRequest, Finished, TextDelta
from assistant_cli.providers.oauth import OAuthClient
from assistant_cli.providers.openai import OpenAIProvider
from assistant_cli.providers.openai_ws import OpenAIWebSocketProvider
from tests.fakes.openai_ws_server import FakeResponsesWS, Reply
from tests.fakes.whatsapp_payloads import ACCESS_TOKEN, API_VERSION, PHONE_NUMBER_ID
from tests.fakes.whatsapp_server import FakeGraph

SSE = ('data: {"model":"m-1","choices":[{"delta":{"content":"Hel"}}]}\n\n'
       ': keep-alive\n\n'
       'data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n'
       'data: [DONE]\n\n')


def request() -> ChatRequest:
    return ChatRequest((ChatTurn("user", "hi"),))


async def test_a_rest_provider_streams_through_the_transport_it_is_given() -> None:
    seen: list[httpx.Request] = []

    def answer(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, text=SSE, headers={"content-type": "text/event-stream"})

    cfg = ProviderConfig(base_url="https://models.invalid/v1", model="m", api_key="env:K")
    provider = OpenAIProvider("p", cfg, lambda ref, key: "sk-test",
                              transport=httpx.MockTransport(answer))
    events = [e async for e in provider.stream(request())]
    await provider.aclose()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.model == "m-1"
    assert str(seen[0].url) == "https://models.invalid/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert json.loads(seen[0].content)["messages"] == [{"role": "user", "content": "hi"}]


async def test_the_anthropic_adapter_reads_events_split_over_lines_from_the_one_sse_parser(
) -> None:
    body = ("event: message_start\n"
            'data: {"type":"message_start","message":{"model":"claude-x",\n'
            'data: "usage":{"input_tokens":3,"output_tokens":0}}}\n\n'
            "event: content_block_delta\n"
            'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"ok"}}\n\n'
            'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
            '"usage":{"output_tokens":1}}\n\n'
            'data: {"type":"message_stop"}\n\n')
    transport = httpx.MockTransport(lambda req: httpx.Response(200, text=body))
    cfg = ProviderConfig(kind="anthropic", base_url="https://claude.invalid/v1", model="c",
                         api_key="env:K")
    provider = AnthropicProvider("a", cfg, lambda ref, key: "k", transport=transport)
    events = [e async for e in provider.stream(request())]
    await provider.aclose()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["ok"]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.usage is not None
    assert (finished.model, finished.usage.prompt_tokens, finished.usage.completion_tokens) == (
        "claude-x", 3, 1)


async def test_oauth_token_requests_go_through_the_transport_given() -> None:
    forms: list[bytes] = []

    def token(req: httpx.Request) -> httpx.Response:
        forms.append(req.content)
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer"})

    auth = AuthConfig(type="oauth", flow="client_credentials", client_id="cid",
                      client_secret="env:S", token_url="https://auth.invalid/token")
    client = OAuthClient("p", auth, lambda ref, key: "secret",
                         transport=httpx.MockTransport(token))
    status, body = await client.post_form("https://auth.invalid/token",
                                          {"grant_type": "client_credentials"})
    assert (status, body["access_token"]) == (200, "at")
    assert forms == [b"grant_type=client_credentials"]


class ToLoopback(AbstractResolver):
    """Resolves every name to 127.0.0.1: only a client using this connector finds the fake."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


async def test_the_graph_client_uses_the_connector_it_is_given() -> None:
    with FakeGraph() as graph:
        port = int(graph.base_url.rsplit(":", 1)[1])
        connector = aiohttp.TCPConnector(resolver=ToLoopback())
        client = GraphClient(f"http://graph.example.invalid:{port}", API_VERSION,
                             PHONE_NUMBER_ID, ACCESS_TOKEN, connector=connector, backoff=())
        try:
            wamid = await client.send_text("15550001111", "through the connector")
        finally:
            await client.aclose()
        assert not connector.closed  # the caller's to close
        await connector.close()
        sent: Any = graph.sent
    assert wamid and [s.text for s in sent] == ["through the connector"]


async def test_the_websocket_provider_opens_its_socket_through_the_connector_given() -> None:
    with FakeResponsesWS() as fake:
        fake.enqueue(Reply("over the connector"))
        port = int(fake.base_url.rsplit(":", 1)[1].split("/", 1)[0])
        cfg = ProviderConfig(kind="openai-ws", base_url=f"http://ws.example.invalid:{port}/v1",
                             model="fake-model", api_key="env:K")
        connector = aiohttp.TCPConnector(resolver=ToLoopback())
        provider = OpenAIWebSocketProvider("ws", cfg, lambda ref, key: "sk-test-key",
                                           connector=connector)
        try:
            events = [e async for e in provider.stream(request())]
        finally:
            await provider.aclose()
        assert not connector.closed
        await connector.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "over the connector"
