"""End to end: `assistant-cli serve` chatting in a pseudo-terminal against a fake OpenAI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from tests.conftest import cli_command, subprocess_env
from tests.e2e.ptyproc import PROMPT, STOP_TIMEOUT, ServeProcess
from tests.fakes.openai_server import FakeOpenAI, HangAfter

pytestmark = pytest.mark.e2e



@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def write_config(home: Path, fake: FakeOpenAI, api_key: str = "env:FAKE_OPENAI_KEY") -> None:
    (home / "config.yaml").write_text(
        "version: 1\n"
        "providers:\n"
        "  fake:\n"
        f"    base_url: {fake.base_url}\n"
        f"    model: {fake.model}\n"
        f"    api_key: {api_key}\n"
        "    timeout: 10\n"
        "gateway:\n"
        "  port: 0\n",
        encoding="utf-8",
    )


@pytest.fixture
def serve(isolated_home: Path, fake: FakeOpenAI) -> Iterator[ServeStarter]:
    write_config(isolated_home, fake)
    starter = ServeStarter(isolated_home, fake)
    try:
        yield starter
    finally:
        for proc in starter.started:
            proc.kill()


class ServeStarter:
    """Starts `serve` children for one test and remembers them for cleanup."""

    def __init__(self, home: Path, fake: FakeOpenAI) -> None:
        self.home = home
        self.env = subprocess_env(home, FAKE_OPENAI_KEY=fake.api_key or "")
        self.started: list[ServeProcess] = []

    def __call__(self) -> ServeProcess:
        proc = ServeProcess(self.home, self.env)
        self.started.append(proc)
        proc.wait_ready()
        return proc


def db_rows(home: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(home / "state" / "state.db")
    try:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def assert_answered_once(home: Path, text: str, answer: str) -> None:
    """The inbox row for `text` is done, its reply sent once, and history has one pair."""
    rows = db_rows(home, "SELECT id, status FROM inbox WHERE text = ?", (text,))
    assert len(rows) == 1, rows
    inbox_id, status = rows[0]
    assert status == "done"
    replies = db_rows(home, "SELECT text, state FROM replies WHERE inbox_id = ?", (inbox_id,))
    assert replies == [(answer, "sent")]
    history = db_rows(home, "SELECT role, content FROM history WHERE inbox_id = ? ORDER BY id",
                      (inbox_id,))
    assert history == [("user", text), ("assistant", answer)]


def test_answer_streams_into_the_terminal_token_by_token(
    serve: ServeStarter, fake: FakeOpenAI
) -> None:
    fake.token_delay = 0.05
    proc = serve()
    mark = proc.type("hello world")
    proc.expect(r"assistant > echo:", since=mark)
    first_seen = time.monotonic()
    partial = proc.text[mark:]
    proc.expect(r"echo: hello world", since=mark)
    complete_seen = time.monotonic()
    assert "echo: hello world" not in partial, "the whole answer arrived at once"
    # Two more tokens follow the first, each 50 ms apart.
    assert complete_seen - first_seen >= 0.05
    proc.expect(re.escape(PROMPT), since=mark + len(partial))


def test_history_survives_a_restart(serve: ServeStarter, fake: FakeOpenAI) -> None:
    first = serve()
    mark = first.type("my name is Ada")
    first.expect(r"echo: my name is Ada", since=mark)
    code, took = first.terminate()
    assert code == 0, first.tail()
    assert took < STOP_TIMEOUT

    second = serve()
    mark = second.type("what is my name?")
    second.expect(r"echo: what is my name\?", since=mark)
    assert fake.wait_for_requests(2, timeout=5)
    messages = [(m["role"], m["content"]) for m in fake.requests[1].messages]
    assert ("user", "my name is Ada") in messages
    assert ("assistant", "echo: my name is Ada") in messages
    assert messages.index(("user", "my name is Ada")) < messages.index(
        ("assistant", "echo: my name is Ada")) < messages.index(("user", "what is my name?"))


def test_message_interrupted_by_kill_9_is_answered_after_restart(
    serve: ServeStarter, fake: FakeOpenAI, isolated_home: Path
) -> None:
    fake.enqueue(HangAfter(3, "one two three four five"))
    first = serve()
    mark = first.type("count to five")
    first.expect(r"one two three", since=mark)
    os.kill(first.pid, signal.SIGKILL)
    assert first.proc.wait(5) == -signal.SIGKILL
    assert "four" not in first.text[mark:]

    second = serve()
    second.expect(r"echo: count to five", timeout=10)
    assert fake.user_messages() == ["count to five", "count to five"]
    code, _ = second.terminate()
    assert code == 0, second.tail()
    assert_answered_once(isolated_home, "count to five", "echo: count to five")


def test_reply_generated_but_not_sent_is_sent_after_restart_without_the_model(
    serve: ServeStarter, fake: FakeOpenAI, isolated_home: Path
) -> None:
    async def answered_then_crashed() -> None:
        db = Database(isolated_home / "state" / "state.db")
        try:
            inbox = Inbox(db)
            row = await inbox.add(InboundMessage(platform="console", external_id="x1",
                                                 chat_id="local", sender_id="me",
                                                 text="question"))
            assert row is not None
            claimed = await inbox.claim()
            assert claimed is not None and claimed.id == row
            await inbox.record_reply(row, "stored answer")
        finally:
            db.close()

    asyncio.run(answered_then_crashed())

    proc = serve()
    proc.expect(r"assistant > stored answer")
    code, _ = proc.terminate()
    assert code == 0, proc.tail()
    assert fake.requests == []
    assert_answered_once(isolated_home, "question", "stored answer")


def test_serve_without_config_or_terminal_exits_2_naming_the_setup_commands(
    isolated_home: Path,
) -> None:
    result = subprocess.run(
        [*cli_command(), "serve"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=subprocess_env(isolated_home), timeout=20,
    )
    assert result.returncode == 2, result.stderr
    assert "assistant-cli config init" in result.stderr
    assert "assistant-cli secrets set" in result.stderr


def test_missing_provider_secret_exits_1_naming_the_config_key(
    isolated_home: Path, fake: FakeOpenAI
) -> None:
    write_config(isolated_home, fake, api_key="env:NOT_SET_ANYWHERE")
    env = subprocess_env(isolated_home)
    env.pop("NOT_SET_ANYWHERE", None)
    result = subprocess.run(
        [*cli_command(), "serve"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=env, timeout=20,
    )
    assert result.returncode == 1, result.stderr
    assert "providers.fake.api_key" in result.stderr
    assert "NOT_SET_ANYWHERE" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert fake.requests == []


def test_gateway_health_and_readiness_answer_200_while_serving(serve: ServeStarter) -> None:
    proc = serve()
    assert proc.port is not None
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}{path}", timeout=5) as resp:
            assert resp.status == 200
            body = json.loads(resp.read())
        if path == "/readyz":
            assert body["ready"] is True
            assert body["channels"] == {"console": True}
        else:
            assert body == {"status": "ok"}


def _wait_exit(proc: ServeProcess, timeout: float) -> tuple[int | None, float]:
    started = time.monotonic()
    while proc.proc.poll() is None and time.monotonic() - started < timeout:
        proc._pump(0.05)
    proc._pump(0)
    return proc.proc.poll(), time.monotonic() - started


def test_ctrl_c_while_an_answer_streams_lets_it_finish_then_exits_0(
    serve: ServeStarter, fake: FakeOpenAI, isolated_home: Path
) -> None:
    fake.token_delay = 0.15
    proc = serve()
    mark = proc.type("one two three four five six")
    proc.expect(r"echo: one", since=mark)
    os.kill(proc.pid, signal.SIGINT)
    code, took = _wait_exit(proc, timeout=8)  # the grace period is 10 s
    assert code == 0, proc.tail()
    notice = proc.text.index("stopping: finishing 1 answer(s) in progress")
    assert "five six" in proc.text[notice:], "the answer did not go on after Ctrl-C"
    assert took < 5
    assert_answered_once(isolated_home, "one two three four five six",
                         "echo: one two three four five six")


def test_second_ctrl_c_returns_the_answer_to_the_queue_for_the_next_start(
    serve: ServeStarter, fake: FakeOpenAI, isolated_home: Path
) -> None:
    fake.token_delay = 1.0
    first = serve()
    mark = first.type("a b c d e f g h")
    first.expect(r"echo: a", since=mark)
    os.kill(first.pid, signal.SIGINT)
    first.expect(r"press Ctrl-C again to stop now", since=mark)
    os.kill(first.pid, signal.SIGINT)
    code, took = _wait_exit(first, timeout=5)
    assert code == 0, first.tail()
    assert took < 3, "the second Ctrl-C did not cut the grace period short"
    assert "interrupted; answered again at the next start" in first.text
    assert db_rows(isolated_home, "SELECT status FROM inbox") == [("queued",)]

    fake.token_delay = 0.0
    second = serve()
    second.expect(r"echo: a b c d e f g h")
    code, _ = second.terminate()
    assert code == 0, second.tail()
    assert_answered_once(isolated_home, "a b c d e f g h", "echo: a b c d e f g h")


def test_end_of_input_answers_everything_queued_then_exits_0(
    isolated_home: Path, fake: FakeOpenAI
) -> None:
    write_config(isolated_home, fake)
    fake.token_delay = 0.05
    result = subprocess.run(
        [*cli_command(), "serve"], input="first question\nsecond question\n",
        capture_output=True, text=True, timeout=30,
        env=subprocess_env(isolated_home, FAKE_OPENAI_KEY=fake.api_key or ""),
    )
    assert result.returncode == 0, result.stderr
    assert "echo: first question" in result.stdout
    assert "echo: second question" in result.stdout
    assert_answered_once(isolated_home, "first question", "echo: first question")
    assert_answered_once(isolated_home, "second question", "echo: second question")


def test_console_only_serve_with_no_stdin_keeps_running_as_a_service(
    isolated_home: Path, fake: FakeOpenAI
) -> None:
    """As systemd starts it (stdin /dev/null): no console channel, said in the log; the
    gateway stays up until SIGTERM instead of the process ending at end of input."""
    write_config(isolated_home, fake)
    err_file = isolated_home / "serve.err"
    with err_file.open("w") as err:
        proc = subprocess.Popen(
            [*cli_command(), "serve"], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            env=subprocess_env(isolated_home, FAKE_OPENAI_KEY=fake.api_key or ""))
    try:
        deadline = time.monotonic() + 15
        while "assistant-cli ready" not in err_file.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, err_file.read_text()
            time.sleep(0.05)
        port = re.search(r"gateway: http://127\.0\.0\.1:(\d+)", err_file.read_text())
        assert port is not None, err_file.read_text()
        time.sleep(0.5)  # long past the moment an ended stdin used to stop it
        assert proc.poll() is None, err_file.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/healthz", timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_TIMEOUT) == 0
    finally:
        proc.kill()
    log = (isolated_home / "state" / "logs" / "assistant-cli.jsonl").read_text()
    assert '"event": "serve.console_off"' in log.replace('":"', '": "')
    assert "console channel is off" in err_file.read_text()
    assert "channels: none" in err_file.read_text()
    # piped stderr (a journal, a file): no token in it, but how to get one
    assert "token=" not in err_file.read_text() and "token=" not in log
    assert "run `assistant-cli dashboard` on this machine" in err_file.read_text()


def test_the_dashboard_url_is_printed_once_to_a_terminal_and_never_logged(
        serve: ServeStarter, isolated_home: Path) -> None:
    proc = serve()
    try:
        proc.expect(r"dashboard \(token valid 1 h\): assistant-cli dashboard 'http://")
        time.sleep(0.2)
        assert proc.text.count("?token=") == 1
    finally:
        code, _ = proc.terminate()
    assert code == 0
    log = (isolated_home / "state" / "logs" / "assistant-cli.jsonl").read_text()
    assert "token=" not in log
