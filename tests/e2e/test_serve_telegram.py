"""End to end: `assistant-cli serve` as a subprocess, talking to the fake Telegram Bot API."""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_command, subprocess_env
from tests.fakes.openai_server import FakeOpenAI, HangAfter
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e

READY_RE = re.compile(r"assistant-cli ready · channels: telegram")
START_TIMEOUT = 10.0


def new_token() -> str:
    # Unique per test: the poller lock is machine-wide and keyed by the token.
    return f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=new_token()) as fake:
        yield fake


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def child_env(home: Path, token: str, model: FakeOpenAI) -> dict[str, str]:
    # The keyring password lets serve keep its own secrets (gateway keys) in the file store.
    return subprocess_env(home, TG_TOKEN=token, FAKE_OPENAI_KEY=model.api_key or "",
                          ASSISTANT_CLI_KEYRING_PASSWORD="test-password")


def write_config(home: Path, tg: FakeTelegram, model: FakeOpenAI) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        "version: 1\n"
        "platforms:\n"
        "  console:\n    enabled: false\n"
        "  telegram:\n"
        "    api_token: env:TG_TOKEN\n"
        f"    base_url: {tg.base_url}\n"
        "    dm_policy: open\n"
        "    poll_timeout: 5\n"
        "providers:\n"
        "  fake:\n"
        f"    base_url: {model.base_url}\n"
        f"    model: {model.model}\n"
        "    api_key: env:FAKE_OPENAI_KEY\n"
        "    timeout: 10\n"
        "gateway:\n  port: 0\n",
        encoding="utf-8",
    )


class Serve:
    """One `serve` child; its output goes to a file so a full pipe can never stall it."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.out_path = home / f"serve-{time.monotonic_ns()}.out"
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                [*cli_command(), "serve"], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True)

    @property
    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not READY_RE.search(self.output):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve not ready (exit {self.proc.poll()}):\n{self.output[-2000:]}")
            time.sleep(0.05)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


@pytest.fixture
def start(
    isolated_home: Path, tg: FakeTelegram, model: FakeOpenAI
) -> Iterator[Callable[[], Serve]]:
    write_config(isolated_home, tg, model)
    env = child_env(isolated_home, tg.token, model)
    started: list[Serve] = []

    def launch() -> Serve:
        proc = Serve(isolated_home, env)
        started.append(proc)
        proc.wait_ready()
        return proc

    try:
        yield launch
    finally:
        for proc in started:
            proc.kill()


def wait(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def test_a_pushed_message_is_answered(
    start: Callable[[], Serve], tg: FakeTelegram
) -> None:
    serve = start()
    tg.push_message(1001, "hello there")
    wait(lambda: tg.messages_to(1001), what="an answer")
    assert tg.messages_to(1001) == ["echo: hello there"]
    assert serve.terminate() == 0, serve.output[-2000:]
    assert tg.pending_updates() == 0


def test_five_messages_from_three_chats_are_each_answered_once(
    start: Callable[[], Serve], tg: FakeTelegram
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
    start: Callable[[], Serve], tg: FakeTelegram, model: FakeOpenAI
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
    start: Callable[[], Serve], tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
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
