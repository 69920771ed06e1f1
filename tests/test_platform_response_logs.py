"""Platform calls log their HTTP status and latency, so troubleshooting can start from `logs`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram.error import InvalidToken

from assistant_cli.channels.telegram_setup import build_bot
from assistant_cli.channels.whatsapp_graph import GraphClient, GraphError
from assistant_cli.config.models import TelegramConfig
from assistant_cli.observability.logs import setup_logging, teardown_logging
from assistant_cli.observability.logview import LogFilter, tail
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.whatsapp_server import ACCESS_TOKEN, PHONE_NUMBER_ID, FakeGraph

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
TOKEN = "987654321:" + "T" * 35


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "logs" / "a.jsonl"
    setup_logging(path, level="INFO")
    yield path
    teardown_logging()


def responses(log_file: Path, channel: str) -> list[dict[str, object]]:
    records = tail(log_file, 100, LogFilter(channel=channel))
    return [json.loads(r.raw) for r in records if r.event == "platform.response"]


async def test_telegram_calls_log_method_status_and_latency_never_the_token(
        log_file: Path) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        cfg = TelegramConfig(api_token="keyring:t", base_url=tg.base_url)
        bot = build_bot(cfg, TOKEN)
        await bot.initialize()
        await bot.shutdown()
        wrong = build_bot(cfg, "111:" + "x" * 35)
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    found = responses(log_file, "telegram")
    assert [(r["method"], r["status"], r["level"]) for r in found] == [
        ("getMe", 200, "INFO"), ("getMe", 401, "WARNING")]
    assert all(isinstance(r["latency_ms"], float) for r in found)
    assert TOKEN not in log_file.read_text()


async def test_whatsapp_calls_log_status_and_latency(log_file: Path) -> None:
    with FakeGraph() as graph:
        good = GraphClient(graph.base_url, "v21.0", PHONE_NUMBER_ID, ACCESS_TOKEN)
        bad = GraphClient(graph.base_url, "v21.0", PHONE_NUMBER_ID, "EAAGwrong", backoff=())
        try:
            await good.phone_number()
            with pytest.raises(GraphError):
                await bad.phone_number()
        finally:
            await good.aclose()
            await bad.aclose()
    found = responses(log_file, "whatsapp")
    assert [(r["method"], r["status"]) for r in found] == [("GET", 200), ("GET", 401)]
    assert ACCESS_TOKEN not in log_file.read_text()
