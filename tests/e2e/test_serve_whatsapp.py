"""End to end: `assistant-cli serve` with WhatsApp, driven by signed webhooks and a fake Graph."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_command, subprocess_env
from tests.fakes.openai_server import FakeOpenAI, Hang
from tests.fakes.whatsapp_server import (
    ACCESS_TOKEN,
    API_VERSION,
    APP_SECRET,
    BUSINESS_ID,
    DISPLAY_NUMBER,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    FakeGraph,
    image_payload,
    new_wamid,
    post_webhook,
    text_payload,
)

pytestmark = pytest.mark.e2e

READY_RE = re.compile(r"assistant-cli ready · .*gateway: http://127\.0\.0\.1:(\d+)")
STRANGER = "15550001111"
FRIEND = "15550002222"  # on allow_from: answered without pairing
START_TIMEOUT = 10.0


class Serve:
    """One `assistant-cli serve` child; stderr goes to a file we poll."""

    def __init__(self, home: Path, env: dict[str, str], run: int) -> None:
        self.log = home / f"serve-{run}.stderr"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [*cli_command(), "serve"], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                env=env, cwd=home, start_new_session=True)
        self.port = 0

    @property
    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = READY_RE.search(self.output)
            if match:
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        pytest.fail(f"serve not ready (exit code {self.proc.poll()}):\n{self.output[-2000:]}")

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/whatsapp"

    def post(self, payload: object) -> int:
        return post_webhook(self.webhook, payload, APP_SECRET).status_code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def write_config(home: Path, graph: FakeGraph, openai: FakeOpenAI) -> None:
    (home / "config.yaml").write_text(
        "version: 1\n"
        "platforms:\n"
        "  whatsapp:\n"
        f"    business_id: '{BUSINESS_ID}'\n"
        f"    phone_number: '{DISPLAY_NUMBER}'\n"
        f"    phone_number_id: '{PHONE_NUMBER_ID}'\n"
        "    access_token: env:WA_TOKEN\n"
        "    app_secret: env:WA_APP_SECRET\n"
        "    verify_token: env:WA_VERIFY_TOKEN\n"
        f"    graph_base_url: {graph.base_url}\n"
        f"    api_version: {API_VERSION}\n"
        f"    allow_from: ['{FRIEND}']\n"
        "providers:\n"
        "  fake:\n"
        f"    base_url: {openai.base_url}\n"
        f"    model: {openai.model}\n"
        "    api_key: env:FAKE_OPENAI_KEY\n"
        "    timeout: 10\n"
        "gateway:\n"
        "  port: 0\n",
        encoding="utf-8",
    )


class Starter:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.started: list[Serve] = []

    def __call__(self) -> Serve:
        proc = Serve(self.home, self.env, len(self.started))
        self.started.append(proc)
        proc.wait_ready()
        return proc


@pytest.fixture
def env(isolated_home: Path, openai: FakeOpenAI) -> dict[str, str]:
    # The keyring password lets `serve` and `pairing approve` share the audit key.
    return subprocess_env(
        isolated_home, WA_TOKEN=ACCESS_TOKEN, WA_APP_SECRET=APP_SECRET,
        WA_VERIFY_TOKEN=VERIFY_TOKEN, FAKE_OPENAI_KEY=openai.api_key or "",
        ASSISTANT_CLI_KEYRING_PASSWORD="correct horse battery staple")


@pytest.fixture
def serve(isolated_home: Path, graph: FakeGraph, openai: FakeOpenAI,
          env: dict[str, str]) -> Iterator[Starter]:
    write_config(isolated_home, graph, openai)
    starter = Starter(isolated_home, env)
    try:
        yield starter
    finally:
        for proc in starter.started:
            proc.kill()


def inbox_rows(home: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(home / "state" / "state.db")
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT external_id, status, outcome FROM inbox ORDER BY id").fetchall()]
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_stranger_is_paired_from_the_cli_and_then_answered(
    serve: Starter, graph: FakeGraph, openai: FakeOpenAI, env: dict[str, str],
    isolated_home: Path,
) -> None:
    proc = serve()
    assert proc.post(text_payload(STRANGER, "hello?")) == 200
    prompt = graph.wait_for_text(STRANGER, r"Pairing code", timeout=5)
    assert prompt is not None, proc.output
    match = re.search(r"--code ([A-Z0-9]{12})", prompt)
    assert match is not None, prompt
    assert f"--user-id {STRANGER}" in prompt
    assert openai.requests == []

    approve = subprocess.run(
        [*cli_command(), "pairing", "approve", "--platform", "whatsapp", "--user-id", STRANGER,
         "--code", match.group(1)], capture_output=True, text=True, env=env, timeout=20)
    assert approve.returncode == 0, approve.stderr
    approved_at = time.monotonic()
    assert graph.wait_for_text(STRANGER, r"You're paired", timeout=5) is not None
    assert time.monotonic() - approved_at < 5

    wamid = new_wamid()
    assert proc.post(text_payload(STRANGER, "what is 2+2?", wamid=wamid)) == 200
    assert graph.wait_for_text(STRANGER, r"echo: what is 2\+2\?", timeout=5) is not None
    assert openai.user_messages() == ["what is 2+2?"]
    assert [(r.message_id, r.typing) for r in graph.reads] == [(wamid, True)]


def test_same_delivery_twice_gets_one_answer(
    serve: Starter, graph: FakeGraph, openai: FakeOpenAI, isolated_home: Path
) -> None:
    proc = serve()
    payload = text_payload(FRIEND, "just once")
    assert proc.post(payload) == 200
    assert graph.wait_for_text(FRIEND, r"echo: just once", timeout=5) is not None
    assert proc.post(payload) == 200  # Meta retrying a delivery it thinks failed
    assert proc.post(text_payload(FRIEND, "next")) == 200
    assert graph.wait_for_text(FRIEND, r"echo: next", timeout=5) is not None
    assert graph.texts_to(FRIEND) == ["echo: just once", "echo: next"]
    assert openai.user_messages() == ["just once", "next"]


def test_message_acknowledged_just_before_kill_9_is_answered_after_restart(
    serve: Starter, graph: FakeGraph, openai: FakeOpenAI, isolated_home: Path
) -> None:
    openai.enqueue(Hang())  # the first run must not get to answer
    first = serve()
    wamid = new_wamid()
    assert first.post(text_payload(FRIEND, "survive this", wamid=wamid)) == 200
    os.kill(first.proc.pid, signal.SIGKILL)
    assert first.proc.wait(5) == -signal.SIGKILL
    assert graph.texts_to(FRIEND) == []
    openai.script.clear()  # unused if the kill came before the model was even asked

    serve()
    assert graph.wait_for_text(FRIEND, r"echo: survive this", timeout=10) is not None
    assert graph.texts_to(FRIEND) == ["echo: survive this"]
    assert wait_until(lambda: inbox_rows(isolated_home) == [(wamid, "done", "answered")])


def test_image_gets_the_text_only_reply_without_a_model_call(
    serve: Starter, graph: FakeGraph, openai: FakeOpenAI
) -> None:
    proc = serve()
    assert proc.post(image_payload(FRIEND, caption="what is this?")) == 200
    assert graph.wait_for_text(FRIEND, r"text", timeout=5) is not None
    assert openai.requests == []


def test_rejected_access_token_stops_serve_naming_the_config_key(
    isolated_home: Path, graph: FakeGraph, openai: FakeOpenAI, env: dict[str, str]
) -> None:
    write_config(isolated_home, graph, openai)
    env["WA_TOKEN"] = "EAAGnot-the-right-token"
    result = subprocess.run([*cli_command(), "serve"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, timeout=20)
    assert result.returncode == 1, result.stderr
    assert "platforms.whatsapp.access_token" in result.stderr
    assert "assistant-cli doctor" in result.stderr
    assert "EAAGnot-the-right-token" not in result.stderr
    assert "Traceback" not in result.stderr
