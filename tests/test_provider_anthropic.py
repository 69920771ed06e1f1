"""The Anthropic Messages adapter against a loopback server speaking its documented SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant_cli.config.models import ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.anthropic import AnthropicProvider
from assistant_cli.providers.base import ChatRequest, Finished, StreamEvent, TextDelta
from tests.fakes.anthropic_server import (
    Error,
    FakeAnthropic,
    Hang,
    HangAfter,
    Reply,
    StreamError,
)

REQUEST = ChatRequest((ChatTurn("system", "be brief"), ChatTurn("user", "hello")))


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def claude(fake: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    provider = make(fake)
    yield provider
    await provider.aclose()


def make(fake: FakeAnthropic, key: str = "sk-ant-test", **kw: Any) -> AnthropicProvider:
    cfg = ProviderConfig(kind="anthropic", base_url=fake.base_url, model="fake-claude",
                         api_key="env:K", **kw)
    return AnthropicProvider("claude", cfg, lambda ref, where: key)


async def collect(p: AnthropicProvider, request: ChatRequest = REQUEST) -> list[StreamEvent]:
    return [e async for e in p.stream(request)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_streams_text_deltas_in_order_then_usage_from_the_events(
    fake: FakeAnthropic, claude: AnthropicProvider
) -> None:
    fake.enqueue(Reply("one two three"))
    events = await collect(claude)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two ", "three"]
    final = events[-1]
    assert isinstance(final, Finished) and final.finish_reason == "stop"
    assert final.model == "fake-claude"
    # input from message_start, output from message_delta; both as the server counted.
    assert final.usage is not None and not final.usage.estimated
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (4, 3)


async def test_sends_key_version_and_system_as_top_level_field(
    fake: FakeAnthropic, claude: AnthropicProvider
) -> None:
    await collect(claude)
    sent = fake.requests[0]
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["system"] == "be brief"
    assert sent.body["messages"] == [{"role": "user", "content": "hello"}]
    assert sent.body["stream"] is True and sent.body["max_tokens"] == 1024


async def test_configured_version_and_max_tokens_are_sent(fake: FakeAnthropic) -> None:
    provider = make(fake, anthropic_version="2099-01-01", max_tokens=77)
    await collect(provider)
    await provider.aclose()
    assert fake.requests[0].headers["anthropic-version"] == "2099-01-01"
    assert fake.requests[0].body["max_tokens"] == 77


async def test_history_alternates_roles_and_opens_with_the_user(
    fake: FakeAnthropic, claude: AnthropicProvider
) -> None:
    request = ChatRequest((
        ChatTurn("system", "s"), ChatTurn("assistant", "stale answer"),
        ChatTurn("user", "a"), ChatTurn("assistant", "b"),
        ChatTurn("user", "c"), ChatTurn("user", "d"),
    ))
    assert text_of(await collect(claude, request)) == "echo: c\n\nd"
    assert fake.requests[0].body["messages"] == [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c\n\nd"}]


async def test_max_tokens_stop_reason_reads_as_length(
    fake: FakeAnthropic, claude: AnthropicProvider
) -> None:
    fake.enqueue(Reply("cut", stop_reason="max_tokens"))
    final = (await collect(claude))[-1]
    assert isinstance(final, Finished) and final.finish_reason == "length"


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [
        (Error.invalid_api_key(), "auth", 401),
        (Error.permission_denied(), "auth", 403),
        (Error.not_found(), "not_found", 404),
        (Error.rate_limited(retry_after=3), "rate_limit", 429),
        (Error.overloaded(), "overload", 529),
        (Error.api_error(), "overload", 500),
        (Error.invalid_request(), "bad_request", 400),
        (Error.credit_balance_too_low(), "quota", 400),
    ],
)
async def test_http_errors_are_classified(
    fake: FakeAnthropic, claude: AnthropicProvider, behaviour: Error, kind: str, status: int
) -> None:
    fake.enqueue(behaviour)
    with pytest.raises(ProviderError) as info:
        await collect(claude)
    assert (info.value.kind, info.value.status) == (kind, status)
    assert info.value.hint


async def test_rate_limit_honours_retry_after(
    fake: FakeAnthropic, claude: AnthropicProvider
) -> None:
    fake.enqueue(Error.rate_limited(retry_after=3))
    with pytest.raises(ProviderError) as info:
        await collect(claude)
    assert info.value.retry_after == 3.0 and info.value.retryable


async def test_out_of_credit_is_quota_and_not_retryable(
    fake: FakeAnthropic, claude: AnthropicProvider
) -> None:
    fake.enqueue(Error.credit_balance_too_low())
    with pytest.raises(ProviderError) as info:
        await collect(claude)
    assert not info.value.retryable and "Billing" in str(info.value)


async def test_wrong_key_is_rejected_by_the_server(fake: FakeAnthropic) -> None:
    provider = make(fake, key="sk-ant-wrong")
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    await provider.aclose()
    assert info.value.kind == "auth" and "invalid x-api-key" in info.value.message


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [("overloaded_error", "overload"), ("api_error", "overload"),
     ("rate_limit_error", "rate_limit"), ("invalid_request_error", "bad_request")],
)
async def test_error_event_mid_stream_is_classified_after_the_text_so_far(
    fake: FakeAnthropic, claude: AnthropicProvider, error_type: str, kind: str
) -> None:
    fake.enqueue(StreamError(after=2, error_type=error_type, message="boom"))
    seen: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for event in claude.stream(REQUEST):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["partial ", "answer "]
    assert info.value.kind == kind
    assert "mid-answer" in info.value.message and "boom" in info.value.message


async def test_ping_events_are_ignored(fake: FakeAnthropic) -> None:
    fake.pings = True
    provider = make(fake)
    assert text_of(await collect(provider)) == "echo: hello"
    await provider.aclose()


async def test_stalled_stream_times_out_as_a_network_error(fake: FakeAnthropic) -> None:
    fake.enqueue(HangAfter(1))
    provider = make(fake, timeout=0.3)
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    await provider.aclose()
    assert info.value.kind == "network" and "timed out" in info.value.message


async def test_no_answer_at_all_times_out(fake: FakeAnthropic) -> None:
    fake.enqueue(Hang())
    provider = make(fake, timeout=0.3)
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    await provider.aclose()
    assert info.value.kind == "network"


async def test_unreachable_service_names_host_and_port() -> None:
    cfg = ProviderConfig(kind="anthropic", base_url="http://127.0.0.1:9/v1", model="m")
    provider = AnthropicProvider("down", cfg, lambda r, w: "")
    with pytest.raises(ProviderError) as info:
        await collect(provider)
    assert info.value.kind == "network" and "127.0.0.1:9" in info.value.message


async def test_models_are_listed(claude: AnthropicProvider) -> None:
    assert await claude.list_models() == ["fake-claude"]
