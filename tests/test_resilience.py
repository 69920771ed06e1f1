"""Retries, Retry-After, cooldowns, failover and the all-failed path, against loopback fakes;
plus 1,000 requests with random 429/500/timeouts on the default provider."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.providers.base import ChatRequest, Finished, TextDelta
from assistant_cli.providers.router import ProviderRouter
from tests.fakes.openai_server import Behaviour, Error, FakeOpenAI, Hang, Reply
from tests.provider_support import FakeClock, TurnHarness, config, drain, router

REQUEST = ChatRequest((ChatTurn("user", "hi"),))
DOWN = "http://127.0.0.1:9/v1"

APOLOGY = texts.apology(translator("en"))


@pytest.fixture
def main() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def spare() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.reply = lambda messages: "from spare"
        yield server


async def ask(r: ProviderRouter) -> tuple[str, str | None]:
    text, provider = "", None
    async for event in r.stream(REQUEST):
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, Finished):
            provider = event.provider
    return text, provider


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_exhausted_quota_is_not_retried_and_cools_down_longest(
    main: FakeOpenAI, spare: FakeOpenAI
) -> None:
    main.enqueue(Error.insufficient_quota())
    clock = FakeClock()
    r = router(config({"main": main.base_url, "spare": spare.base_url}), clock=clock)
    assert await ask(r) == ("from spare", "spare")
    assert len(main.requests) == 1
    assert r.state["main"].cooldown_until - clock.now == 300.0
    await r.aclose()


@pytest.mark.parametrize("error", [
    Error(400, {"error": {"message": "bad", "type": "invalid_request_error"}}),
    Error.invalid_api_key(), Error(403, {"error": {"message": "no"}}),
    Error.model_not_found("fake-model")])
async def test_client_errors_are_not_retried(main: FakeOpenAI, error: Error) -> None:
    main.enqueue(error)
    r = router(config({"main": main.base_url}))
    with pytest.raises(ProviderError) as info:
        await ask(r)
    assert not info.value.retryable and len(main.requests) == 1
    await r.aclose()


async def test_retry_after_is_honoured_up_to_the_cap(main: FakeOpenAI) -> None:
    main.enqueue(Error.rate_limited(retry_after=0.25), Error.rate_limited(retry_after=3600),
                 Reply("ok"))
    sleeps = Sleeps()
    r = router(config({"main": main.base_url}), sleep=sleeps, max_retry_after=5.0)
    assert await ask(r) == ("ok", "main")
    # 3600 s is first capped to 60 when classified, then to the router's 5 s.
    assert sleeps.calls == [0.25, 5.0]
    await r.aclose()


async def test_a_retry_after_beyond_the_cap_fails_over_at_once(
    main: FakeOpenAI, spare: FakeOpenAI
) -> None:
    main.enqueue(Error.rate_limited(retry_after=45))
    sleeps = Sleeps()
    clock = FakeClock()
    r = router(config({"main": main.base_url, "spare": spare.base_url}), sleep=sleeps,
               max_retry_after=5.0, clock=clock)
    assert await ask(r) == ("from spare", "spare")
    assert sleeps.calls == [] and len(main.requests) == 1
    assert r.state["main"].cooldown_until - clock.now == 45.0  # the service asked for 45 s
    await r.aclose()


async def test_backoff_is_exponential_with_jitter(main: FakeOpenAI) -> None:
    main.enqueue(Error.server_error(), Error.server_error(), Reply("third time"))
    sleeps = Sleeps()
    r = router(config({"main": main.base_url}), sleep=sleeps, base_delay=1.0)
    assert await ask(r) == ("third time", "main")
    first, second = sleeps.calls
    assert 0.5 <= first <= 1.5 and 1.0 <= second <= 3.0
    await r.aclose()


async def test_a_failing_provider_cools_down_30s_then_1min_then_5min(
    main: FakeOpenAI, spare: FakeOpenAI
) -> None:
    main.enqueue(*[Error.server_error()] * 12)
    clock = FakeClock()
    bus = EventBus()
    sub = bus.subscribe()
    r = router(config({"main": main.base_url, "spare": spare.base_url}), bus, clock=clock)
    steps = []
    for _ in range(4):
        assert await ask(r) == ("from spare", "spare")
        steps.append(r.state["main"].cooldown_until - clock.now)
        assert await ask(r) == ("from spare", "spare")  # skipped while cooling down
        clock.now += steps[-1] + 1
    assert steps == [30.0, 60.0, 300.0, 300.0]
    assert len(main.requests) == 12  # 3 attempts per turn it was tried, none while cooling
    cooldowns = [e.data["cooldown_s"] for e in drain(sub) if e.name == "provider.error"]
    assert [c for c in cooldowns if c] == [30.0, 60.0, 300.0, 300.0]
    # One success resets the steps.
    assert await ask(r) == ("echo: hi", "main")
    assert r.state["main"].strikes == 0
    await r.aclose()


async def test_a_bad_request_fails_over_without_cooling_the_provider_down(
    main: FakeOpenAI, spare: FakeOpenAI
) -> None:
    main.enqueue(Error(400, {"error": {"message": "context too long"}}))
    r = router(config({"main": main.base_url, "spare": spare.base_url}))
    assert await ask(r) == ("from spare", "spare")
    assert r.state["main"].cooldown_until == 0.0
    assert await ask(r) == ("echo: hi", "main")
    await r.aclose()


async def test_when_all_fail_the_user_gets_an_apology_and_the_owner_a_reason(
    tmp_path: Path, main: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    main.enqueue(Error.invalid_api_key())
    h = TurnHarness(tmp_path, config({"main": main.base_url, "spare": DOWN}))
    with caplog.at_level(logging.ERROR, logger="assistant_cli"):
        outcome = await h.say("hello")
    assert outcome.name == "failed" and h.channel.sent == [APOLOGY]
    events = {e.name: e.data for e in drain(h.sub)}
    reasons = events["provider.exhausted"]["providers"]
    assert [(x["provider"], x["kind"]) for x in reasons] == [("main", "auth"),
                                                             ("spare", "network")]
    failed = events["turn.failed"]
    assert "every provider failed (main: auth; spare: network)" in failed["error"]
    assert failed["hint"]
    logged = [r for r in caplog.records if getattr(r, "event", "") == "turn.failed"]
    assert logged and "main: auth; spare: network" in logged[0].getMessage()
    await h.close()


def chaos_script(rng: random.Random, n: int) -> list[Behaviour]:
    """About 30 % faults: rate limits with Retry-After, server errors, hung requests."""
    script: list[Behaviour] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.12:
            script.append(Error.rate_limited(retry_after=1))
        elif roll < 0.24:
            script.append(Error.server_error())
        elif roll < 0.30:
            script.append(Hang())
        else:
            script.append(Reply("from main"))
    return script


async def test_random_faults_with_one_healthy_fallback_answer_at_least_999_of_1000(
    main: FakeOpenAI, spare: FakeOpenAI
) -> None:
    main.script = chaos_script(random.Random(20240605), 3000)
    cfg = config({"main": main.base_url, "spare": spare.base_url}, timeout=0.1)
    # Only main is meant to time out (its scripted hangs); a 0.1 s limit on the healthy
    # spare would make it fail too whenever the machine is briefly busy.
    cfg.providers["spare"] = cfg.providers["spare"].model_copy(update={"timeout": 5.0})
    bus = EventBus()
    # Tiny delays and cooldowns: the same policy, compressed so 1,000 turns take seconds.
    r = router(cfg, bus, base_delay=0.001, max_delay=0.01, max_retry_after=0.01,
               cooldowns=(0.02, 0.05, 0.2))
    gate = asyncio.Semaphore(50)
    served: dict[str, int] = {}

    async def one() -> bool:
        async with gate:
            try:
                _, provider = await ask(r)
            except ProviderError:
                return False
            served[str(provider)] = served.get(str(provider), 0) + 1
            return True

    started = time.monotonic()
    results = await asyncio.gather(*(one() for _ in range(1000)))
    elapsed = time.monotonic() - started
    await r.aclose()
    rate = sum(results) / len(results)
    print(f"\nfault injection: {sum(results)}/1000 answered ({rate:.1%}) in {elapsed:.1f} s; "
          f"served by {served}; main saw {len(main.requests)} requests")
    assert rate >= 0.999
    assert served.get("main", 0) > 300  # the default really was exercised, not bypassed
    assert served.get("spare", 0) > 0
