"""The Responses-over-WebSocket adapter against a loopback server speaking the documented
events, and router failover between adapters of different kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant_cli.config.models import Config, ProviderConfig
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, Finished, StreamEvent, TextDelta
from assistant_cli.providers.openai_ws import OpenAIWebSocketProvider, ws_url
from assistant_cli.providers.router import ProviderRouter
from tests.fakes import anthropic_server
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_ws_server import (
    CloseAfter,
    ErrorEvent,
    Failed,
    FakeResponsesWS,
    HandshakeError,
    Hang,
    Reply,
)

REQUEST = ChatRequest((ChatTurn("system", "be brief"), ChatTurn("user", "hello")))


@pytest.fixture
def fake() -> Iterator[FakeResponsesWS]:
    with FakeResponsesWS() as server:
        yield server


@pytest.fixture
async def ws(fake: FakeResponsesWS) -> AsyncIterator[OpenAIWebSocketProvider]:
    provider = make(fake)
    yield provider
    await provider.aclose()


def make(fake: FakeResponsesWS, key: str = "sk-test-key", **kw: Any
         ) -> OpenAIWebSocketProvider:
    cfg = ProviderConfig(kind="openai-ws", base_url=fake.base_url, model="fake-model",
                         api_key="env:K", **kw)
    return OpenAIWebSocketProvider("ws", cfg, lambda ref, where: key)


async def collect(p: OpenAIWebSocketProvider | ProviderRouter) -> list[StreamEvent]:
    return [e async for e in p.stream(REQUEST)]


def test_socket_url_is_derived_from_the_http_base_url() -> None:
    assert ws_url("https://api.openai.com/v1") == "wss://api.openai.com/v1/responses"
    assert ws_url("http://127.0.0.1:8000/v1/") == "ws://127.0.0.1:8000/v1/responses"
    assert ws_url("wss://gw.example/v1") == "wss://gw.example/v1/responses"


async def test_streams_deltas_in_order_then_usage_from_response_completed(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    fake.enqueue(Reply("one two three"))
    events = await collect(ws)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two ", "three"]
    final = events[-1]
    assert isinstance(final, Finished) and final.finish_reason == "stop"
    assert final.model == "fake-model"
    assert final.usage is not None and not final.usage.estimated
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (4, 3)


async def test_sends_bearer_header_and_a_documented_response_create(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    await collect(ws)
    sent = fake.requests[0]
    assert sent.headers["Authorization"] == "Bearer sk-test-key"
    assert sent.event == {
        "type": "response.create", "model": "fake-model", "store": False,
        "instructions": "be brief",
        "input": [{"type": "message", "role": "user", "content": "hello"}],
    }


async def test_each_turn_uses_a_fresh_socket_and_closes_it(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    await collect(ws)
    await collect(ws)
    assert fake.connections == 2


async def test_incomplete_response_finishes_with_length(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    fake.enqueue(Reply("cut short", incomplete_reason="max_output_tokens"))
    final = (await collect(ws))[-1]
    assert isinstance(final, Finished) and final.finish_reason == "length"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth"), (403, "auth"), (404, "not_found"), (429, "rate_limit"),
     (500, "overload"), (503, "overload")],
)
async def test_refused_handshake_is_classified_by_http_status(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider, status: int, kind: str
) -> None:
    fake.enqueue(HandshakeError(status, headers={"Retry-After": "2"}))
    with pytest.raises(ProviderError) as info:
        await collect(ws)
    assert (info.value.kind, info.value.status) == (kind, status)
    if kind == "rate_limit":
        assert info.value.retry_after == 2.0


async def test_wrong_key_fails_the_handshake_as_auth(fake: FakeResponsesWS) -> None:
    provider = make(fake, key="sk-wrong")
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    await provider.aclose()
    assert info.value.kind == "auth" and info.value.status == 401


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (ErrorEvent("rate_limit_exceeded", "slow down", 429, "rate_limit_error"), "rate_limit"),
        (ErrorEvent("insufficient_quota", "no money", 429, "insufficient_quota"), "quota"),
        (ErrorEvent("model_not_found", "no such model", 404), "not_found"),
        (ErrorEvent("invalid_value", "bad", 400), "bad_request"),
        (ErrorEvent("server_error", "oops", None, "server_error"), "overload"),
        (ErrorEvent("rate_limit_exceeded", "no status given", None), "rate_limit"),
    ],
)
async def test_error_events_are_classified(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider, event: ErrorEvent, kind: str
) -> None:
    fake.enqueue(event)
    with pytest.raises(ProviderError) as info:
        await collect(ws)
    assert info.value.kind == kind
    assert event.message in info.value.message


async def test_error_event_mid_answer_comes_after_the_text_so_far(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    fake.enqueue(ErrorEvent("server_error", "went away", 500, "server_error", after=2))
    seen: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for event in ws.stream(REQUEST):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["partial ", "answer "]
    assert info.value.kind == "overload" and "mid-answer" in info.value.message


async def test_response_failed_is_classified_by_its_error_code(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    fake.enqueue(Failed("rate_limit_exceeded", "Request too large for tokens per min"))
    with pytest.raises(ProviderError) as info:
        await collect(ws)
    assert info.value.kind == "rate_limit"


async def test_socket_closed_mid_answer_is_a_network_error(
    fake: FakeResponsesWS, ws: OpenAIWebSocketProvider
) -> None:
    fake.enqueue(CloseAfter(2))
    with pytest.raises(ProviderError) as info:
        await collect(ws)
    assert info.value.kind == "network" and "1011" in info.value.message


async def test_silence_times_out_as_a_network_error(fake: FakeResponsesWS) -> None:
    fake.enqueue(Hang())
    provider = make(fake, timeout=0.3)
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    await provider.aclose()
    assert info.value.kind == "network" and "timed out" in info.value.message


async def test_unreachable_service_names_host_and_port() -> None:
    cfg = ProviderConfig(kind="openai-ws", base_url="http://127.0.0.1:9/v1", model="m")
    provider = OpenAIWebSocketProvider("down", cfg, lambda r, w: "")
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    await provider.aclose()
    assert info.value.kind == "network" and "127.0.0.1:9" in info.value.message


async def test_router_fails_over_from_overloaded_anthropic_to_websocket(
    fake: FakeResponsesWS,
) -> None:
    with FakeAnthropic() as claude:
        # 529 is retryable: every attempt on the primary fails, then the spare answers.
        claude.enqueue(*[anthropic_server.Error.overloaded()] * 3)
        fake.enqueue(Reply("from the socket"))
        config = Config.model_validate({
            "providers": {
                "claude": {"kind": "anthropic", "base_url": claude.base_url,
                           "model": "fake-claude", "api_key": "env:A"},
                "socket": {"kind": "openai-ws", "base_url": fake.base_url,
                           "model": "fake-model", "api_key": "env:O"},
            },
            "assistant": {"provider": "claude", "fallbacks": ["socket"]},
        })
        keys = {"providers.claude.api_key": "sk-ant-test", "providers.socket.api_key":
                "sk-test-key"}
        bus = EventBus()
        sub = bus.subscribe()
        router = ProviderRouter(config, lambda ref, where: keys[where], bus, base_delay=0.01)
        events = await collect(router)
        await router.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "from the socket"
    final = events[-1]
    assert isinstance(final, Finished) and final.provider == "socket"
    assert len(claude.requests) == 3
    published = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    failover = [e for e in published if e.name == "provider.failover"]
    assert len(failover) == 1 and failover[0].data["kind"] == "overload"
