"""The OpenAI-compatible adapter and the router, against the loopback fake server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import Config, ProviderConfig
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, Finished, StreamEvent, TextDelta
from assistant_cli.providers.openai import OpenAIProvider
from assistant_cli.providers.router import ProviderRouter
from tests.fakes.openai_server import Error, FakeOpenAI, Hang, Reply

REQUEST = ChatRequest((ChatTurn("system", "be brief"), ChatTurn("user", "hello")))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def provider(fake: FakeOpenAI, key: str = "sk-test-key", **kw: Any) -> OpenAIProvider:
    cfg = ProviderConfig(base_url=fake.base_url, model="fake-model", api_key="env:K", **kw)
    return OpenAIProvider("fake", cfg, lambda ref, where: key)


async def collect(p: OpenAIProvider | ProviderRouter) -> list[StreamEvent]:
    return [e async for e in p.stream(REQUEST)]


async def test_streams_deltas_in_order_then_usage(fake: FakeOpenAI) -> None:
    fake.enqueue(Reply("one two three"))
    events = await collect(provider(fake))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "one two three"
    assert sum(isinstance(e, TextDelta) for e in events) == 3
    final = events[-1]
    assert isinstance(final, Finished) and final.finish_reason == "stop"
    assert final.usage is not None and not final.usage.estimated
    body = fake.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "hello"}]
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-test-key"


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        (Error.invalid_api_key(), "auth"),
        (Error.insufficient_quota(), "quota"),
        (Error.rate_limited(retry_after=2), "rate_limit"),
        (Error.server_error(), "overload"),
        (Error.model_not_found("fake-model"), "not_found"),
    ],
)
async def test_http_errors_are_classified(fake: FakeOpenAI, behaviour: Error, kind: str) -> None:
    fake.enqueue(behaviour)
    with pytest.raises(ProviderError) as info:
        await collect(provider(fake))
    assert info.value.kind == kind
    assert info.value.hint


async def test_rate_limit_carries_retry_after(fake: FakeOpenAI) -> None:
    fake.enqueue(Error.rate_limited(retry_after=2))
    with pytest.raises(ProviderError) as info:
        await collect(provider(fake))
    assert info.value.retry_after == 2.0 and info.value.retryable


async def test_wrong_key_is_an_auth_error_naming_the_fix(fake: FakeOpenAI) -> None:
    with pytest.raises(ProviderError) as info:
        await collect(provider(fake, key="sk-wrong"))
    assert info.value.kind == "auth" and info.value.status == 401
    assert "set the environment variable K (providers.fake.api_key)" in str(info.value)


async def test_unreachable_service_names_host_and_port() -> None:
    cfg = ProviderConfig(base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(ProviderError) as info:
        await collect(OpenAIProvider("down", cfg, lambda r, w: ""))
    assert info.value.kind == "network"
    assert "127.0.0.1:9" in info.value.message


async def test_timeout_is_a_network_error(fake: FakeOpenAI) -> None:
    fake.enqueue(Hang())
    with pytest.raises(ProviderError) as info:
        await collect(provider(fake, timeout=0.3))
    assert info.value.kind == "network" and "timed out" in info.value.message


async def test_models_are_listed(fake: FakeOpenAI) -> None:
    assert await provider(fake).list_models() == ["fake-model"]


def two_provider_config(primary: str, fallback: str) -> Config:
    text = (f"providers:\n  main: {{base_url: '{primary}', model: fake-model, api_key: env:K}}\n"
            f"  spare: {{base_url: '{fallback}', model: fake-model, api_key: env:K}}\n"
            "assistant:\n  provider: main\n  fallbacks: [spare]\n")
    return validate_document(parse_document(text, "c"), "c")


async def test_router_retries_retryable_errors_then_succeeds(fake: FakeOpenAI) -> None:
    fake.enqueue(Error.server_error(), Reply("ok"))
    config = two_provider_config(fake.base_url, "http://127.0.0.1:9/v1")
    router = ProviderRouter(config, lambda r, w: "sk-test-key", base_delay=0.01)
    events = await collect(router)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ok"
    assert len(fake.requests) == 2
    await router.aclose()


async def test_router_fails_over_on_auth_error_and_cools_down(fake: FakeOpenAI) -> None:
    with FakeOpenAI() as spare:
        fake.enqueue(Error.invalid_api_key())
        spare.enqueue(Reply("from spare"), Reply("spare again"))
        bus = EventBus()
        sub = bus.subscribe()
        config = two_provider_config(fake.base_url, spare.base_url)
        router = ProviderRouter(config, lambda r, w: "sk-test-key", bus, base_delay=0.01)
        events = await collect(router)
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "from spare"
        final = events[-1]
        assert isinstance(final, Finished) and final.provider == "spare"
        assert len(fake.requests) == 1  # auth errors are not retried
        names = [sub.queue.get_nowait().name for _ in range(sub.queue.qsize())]
        assert names == ["provider.error", "provider.failover"]
        # The failed provider cools down: the next turn goes straight to the spare.
        await collect(router)
        assert len(fake.requests) == 1 and len(spare.requests) == 2
        await router.aclose()


async def test_router_does_not_fail_over_after_output_reached_the_user(fake: FakeOpenAI) -> None:
    from tests.fakes.openai_server import HangAfter

    with FakeOpenAI() as spare:
        fake.enqueue(HangAfter(2, "a b c d"))
        cfg = two_provider_config(fake.base_url, spare.base_url)
        text = cfg.model_dump()
        text["providers"]["main"]["timeout"] = 0.5
        router = ProviderRouter(Config.model_validate(text), lambda r, w: "sk-test-key",
                                base_delay=0.01)
        seen: list[str] = []
        with pytest.raises(ProviderError):
            async for event in router.stream(REQUEST):
                if isinstance(event, TextDelta):
                    seen.append(event.text)
        assert seen == ["a ", "b "]
        assert spare.requests == []
        await router.aclose()


async def test_router_with_no_provider_says_how_to_add_one() -> None:
    router = ProviderRouter(Config(), lambda r, w: "")
    with pytest.raises(ProviderError, match="no provider is configured"):
        await collect(router)


async def test_consecutive_answers_reuse_one_connection(fake: FakeOpenAI) -> None:
    p = provider(fake)
    await collect(p)
    await collect(p)
    await p.aclose()
    peers = [r.peer for r in fake.requests]
    assert peers[0] is not None and peers[0] == peers[1]
