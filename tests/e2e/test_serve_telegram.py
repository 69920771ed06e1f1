"""End to end: `assistant-cli serve` as a subprocess, talking to the fake Telegram Bot API."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import cli_command
from tests.e2e.telegram_harness import Starter, child_env, new_token, wait, write_config
from tests.fakes.openai_server import FakeOpenAI, HangAfter
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e


def test_a_pushed_message_is_answered(
    start: Starter, tg: FakeTelegram
) -> None:
    serve = start()
    tg.push_message(1001, "hello there")
    wait(lambda: tg.messages_to(1001), what="an answer")
    assert tg.messages_to(1001) == ["echo: hello there"]
    assert serve.terminate() == 0, serve.output[-2000:]
    assert tg.pending_updates() == 0


def test_five_messages_from_three_chats_are_each_answered_once(
    start: Starter, tg: FakeTelegram
) -> None:
    serve = start()
    sent = [(2001, "a1"), (2002, "b1"), (2003, "c1"), (2001, "a2"), (2002, "b2")]
    for chat, text in sent:
        tg.push_message(chat, text)
    wait(lambda: sum(len(tg.messages_to(c)) for c in (2001, 2002, 2003)) >= 5, what="5 answers")
    time.sleep(0.3)  # a duplicate would show up now
    assert tg.messages_to(2001) == ["echo: a1", "echo: a2"]
    assert tg.messages_to(2002) == ["echo: b1", "echo: b2"]
    assert tg.messages_to(2003) == ["echo: c1"]
    assert serve.terminate() == 0


def test_after_kill_9_mid_reply_every_update_is_answered_exactly_once(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI
) -> None:
    model.enqueue(HangAfter(2, "one two three four"))
    first = start()
    tg.push_message(3001, "stuck")
    assert model.wait_for_requests(1, timeout=10)
    tg.push_message(3002, "quick one")
    tg.push_message(3003, "quick two")
    tg.push_message(3001, "queued behind the stuck one")
    wait(lambda: tg.messages_to(3002) and tg.messages_to(3003), what="the other chats' answers")
    os.kill(first.proc.pid, signal.SIGKILL)
    assert first.proc.wait(5) == -signal.SIGKILL
    assert tg.messages_to(3001) == []

    second = start()
    wait(lambda: len(tg.messages_to(3001)) >= 2, what="answers after the restart")
    time.sleep(0.5)  # a duplicate would show up now
    assert tg.messages_to(3001) == ["echo: stuck", "echo: queued behind the stuck one"]
    assert tg.messages_to(3002) == ["echo: quick one"]
    assert tg.messages_to(3003) == ["echo: quick two"]
    assert second.terminate() == 0, second.output[-2000:]


def test_a_second_serve_with_the_same_token_exits_saying_it_is_in_use(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    start()
    other = tmp_path / "other-home"
    write_config(other, tg, model)
    env = child_env(other, tg.token, model)
    result = subprocess.run([*cli_command(), "serve"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, timeout=20)
    assert result.returncode != 0
    assert "Telegram bot token is already in use" in result.stderr
    assert tg.token not in result.stderr + result.stdout


def test_a_token_telegram_rejects_exits_1_naming_the_config_key(
    isolated_home: Path, tg: FakeTelegram, model: FakeOpenAI
) -> None:
    write_config(isolated_home, tg, model)
    bad = new_token()
    env = child_env(isolated_home, bad, model)
    result = subprocess.run([*cli_command(), "serve"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, timeout=20)
    assert result.returncode == 1, result.stderr
    assert "platforms.telegram.api_token" in result.stderr
    assert "assistant-cli doctor" in result.stderr
    assert "Traceback" not in result.stderr
    assert bad.split(":")[1] not in result.stderr + result.stdout
