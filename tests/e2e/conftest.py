"""Fixtures shared by the Telegram end-to-end tests: the fakes and a `serve` starter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.telegram_harness import Starter, new_token
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=new_token(), allow_insecure_webhook=True) as fake:
        yield fake


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def start(isolated_home: Path, tg: FakeTelegram, model: FakeOpenAI) -> Iterator[Starter]:
    """Starts `serve` children against the fakes; every child is killed afterwards."""
    starter = Starter(isolated_home, tg, model)
    try:
        yield starter
    finally:
        for proc in starter.started:
            proc.kill()
