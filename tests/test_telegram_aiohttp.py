"""The aiohttp Bot API transport keeps PTB's request contract: bodies, uploads, timeouts, errors."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData

from assistant_cli.channels.telegram_aiohttp import AiohttpRequest
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
TOKEN = "123456789:" + "A" * 35


def _sent(params: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": 7, "date": 0, "chat": {"id": params["chat_id"], "type": "private"}}


async def _slow(params: dict[str, Any]) -> bool:
    await asyncio.sleep(1.0)
    return True


async def test_parameters_and_file_uploads_reach_the_bot_api() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.register("sendDocument", _sent)
        bot = Bot(TOKEN, base_url=tg.base_url, request=AiohttpRequest(connection_pool_size=4))
        async with bot:
            await bot.send_message(42, "hello <b>there</b>", parse_mode="HTML")
            await bot.send_document(42, b"file body", filename="notes.txt", caption="c")
    text, upload = tg.log[-2], tg.log[-1]
    assert (text.method, text.params["text"], text.params["parse_mode"]) == (
        "sendMessage", "hello <b>there</b>", "HTML")
    assert upload.params["caption"] == "c" and upload.params["chat_id"] == 42
    assert upload.params["document"]["filename"] == "notes.txt"
    assert upload.params["document"]["data"] == b"file body"


async def test_a_slow_answer_is_timed_out_and_logged_without_the_token(
        caplog: pytest.LogCaptureFixture) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.register("slowMethod", _slow)
        request = AiohttpRequest(read_timeout=5.0)
        assert request.read_timeout == 5.0
        async with request:
            with caplog.at_level(logging.INFO, "assistant_cli.channels.telegram"), \
                    pytest.raises(TimedOut):
                await request.post(f"{tg.base_url}{TOKEN}/slowMethod", RequestData(),
                                   read_timeout=0.2)
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "platform.response"]
    fields = record.fields  # type: ignore[attr-defined]
    assert (fields["method"], fields["status"], fields["error"]) == (
        "slowMethod", None, "TimedOut")
    assert record.levelno == logging.WARNING and TOKEN not in caplog.text


async def test_a_full_pool_times_out_instead_of_waiting_forever() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.register("slowMethod", _slow)
        request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1, read_timeout=5.0)
        url = f"{tg.base_url}{TOKEN}/slowMethod"
        async with request:
            busy = asyncio.create_task(request.post(url, RequestData()))
            await tg.async_wait_for(lambda: any(c.method == "slowMethod" for c in tg.log))
            with pytest.raises(TimedOut, match="connection"):
                await request.post(url, RequestData(), connect_timeout=0.1)
            assert await busy is True


async def test_an_unreachable_server_is_a_network_error_that_hides_the_token() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = AiohttpRequest()
    async with request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", RequestData())
    assert not isinstance(caught.value, TimedOut)
    assert TOKEN not in str(caught.value)


async def test_requests_work_before_initialize_and_refuse_after_shutdown() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        request = AiohttpRequest()
        me = await request.post(f"{tg.base_url}{TOKEN}/getMe", RequestData())
        assert isinstance(me, dict) and me["is_bot"] is True
        await request.shutdown()
        with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the RuntimeError
            await request.post(f"{tg.base_url}{TOKEN}/getMe", RequestData())
        await request.initialize()  # a Bot may be initialized again after a shutdown
        assert await request.post(f"{tg.base_url}{TOKEN}/getMe", RequestData())
        await request.shutdown()
