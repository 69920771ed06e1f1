"""Each channel classifies its failed sends in one place: permanent (give up now) or
transient (retry, honouring the platform's retry_after). Real clients against the fakes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram.error import RetryAfter

from assistant_cli.channels.telegram_aiohttp import AiohttpRequest
from assistant_cli.channels.telegram_api import GatewayBot
from assistant_cli.channels.telegram_outbound import Outbox, classify
from assistant_cli.channels.whatsapp_graph import GraphError
from assistant_cli.domain.messages import DeliveryFailure
from assistant_cli.errors import ChannelError
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.whatsapp_server import FakeGraph, Fault
from tests.test_telegram_channel import CHAT, new_token
from tests.whatsapp_support import running_channel

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=new_token()) as fake:
        yield fake


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


async def telegram_failure(tg: FakeTelegram) -> tuple[Exception, DeliveryFailure | None]:
    request = AiohttpRequest()
    bot = GatewayBot(tg.token, base_url=tg.base_url, request=request)
    try:
        await Outbox(bot).send_text(CHAT, "hello")
    except Exception as exc:
        return exc, classify(exc)
    finally:
        await request.shutdown()
    raise AssertionError("the send did not fail")


@pytest.mark.parametrize(("status", "description"), [
    (403, "Forbidden: bot was blocked by the user"),
    (403, "Forbidden: user is deactivated"),
    (400, "Bad Request: chat not found"),
])
async def test_telegram_refusals_that_cannot_succeed_are_permanent(
    tg: FakeTelegram, status: int, description: str
) -> None:
    tg.fail_next("sendMessage", status, description)
    _, failure = await telegram_failure(tg)
    assert failure is not None and failure.permanent
    assert description.split(": ")[1] in failure.reason.lower()


@pytest.mark.parametrize("status", [500, 502, 401])
async def test_telegram_server_errors_and_a_rejected_token_are_transient(
    tg: FakeTelegram, status: int
) -> None:
    tg.fail_next("sendMessage", status)
    _, failure = await telegram_failure(tg)
    assert failure is not None and not failure.permanent and failure.retry_after is None


async def test_telegram_network_failure_is_transient() -> None:
    request = AiohttpRequest()
    bot = GatewayBot("123:abc", base_url="http://127.0.0.1:9/bot", request=request)
    with pytest.raises(Exception) as caught:
        await Outbox(bot).send_text(CHAT, "hello")
    await request.shutdown()
    failure = classify(caught.value)
    assert failure is not None and not failure.permanent


async def test_long_telegram_flood_control_is_left_to_the_inbox_with_its_retry_after(
    tg: FakeTelegram
) -> None:
    tg.fail_next("sendMessage", 429, parameters={"retry_after": 30})
    started = time.monotonic()
    exc, failure = await telegram_failure(tg)
    assert time.monotonic() - started < 5  # no worker sleeps 30 s (nor 4 x 30 s)
    assert isinstance(exc, RetryAfter)
    assert failure == DeliveryFailure(False, failure.reason if failure else "", 30.0)
    assert len(tg.calls("sendMessage")) == 1


def test_errors_of_no_platform_are_not_classified_and_a_stopped_channel_is_transient() -> None:
    assert classify(ValueError("a bug")) is None
    failure = classify(ChannelError("the Telegram channel is not running"))
    assert failure is not None and not failure.permanent


async def test_whatsapp_undeliverable_is_permanent_and_server_errors_transient(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        graph.script.append(Fault(400, 131026, "Message undeliverable"))
        with pytest.raises(GraphError) as caught:
            await h.channel.send("15550001111", "hello")
        failure = h.channel.classify_failure(caught.value)
        assert failure is not None and failure.permanent
        graph.script.extend([Fault(503, 131016, "Service unavailable")] * 5)
        with pytest.raises(GraphError) as caught:
            await h.channel.send("15550001111", "hello")
        failure = h.channel.classify_failure(caught.value)
        assert failure is not None and not failure.permanent
        graph.script.extend([Fault(429, 130429, "Rate limit hit",
                                   headers={"Retry-After": "0.05"})] * 5)
        with pytest.raises(GraphError) as caught:
            await h.channel.send("15550001111", "hello")
        assert h.channel.classify_failure(caught.value) == DeliveryFailure(
            False, caught.value.message, 0.05)
        assert h.channel.classify_failure(ValueError("a bug")) is None
