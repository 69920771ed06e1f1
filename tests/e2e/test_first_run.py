"""End to end: the first `serve` in a terminal asks for a provider, stores the key, starts."""

from __future__ import annotations

import os
import re
import signal
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.config.loader import load_config
from tests.conftest import subprocess_env
from tests.e2e.ptyproc import PROMPT, READY_RE, ServeProcess
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def test_first_run_walks_through_setup_then_chats(isolated_home: Path, fake: FakeOpenAI) -> None:
    env = subprocess_env(isolated_home, ASSISTANT_CLI_KEYRING_PASSWORD="test-password")
    proc = ServeProcess(isolated_home, env)
    try:
        proc.expect(r"Which model provider\?", 15)
        proc.type("4")  # another OpenAI-compatible server
        proc.expect(r"Base URL")
        proc.type(fake.base_url)
        proc.expect(r"Model")
        proc.type("fake-model")
        proc.expect(r"Does it need an API key\?")
        proc.type("y")
        proc.expect(r"API key \(input hidden\)")
        proc.wait_echo_off()
        mark = proc.type("sk-test-key")
        proc.expect(r"Stored the key in encrypted file", since=mark)
        proc.expect(READY_RE.pattern, 15)
        proc.expect(re.escape(PROMPT))
        mark = proc.type("hello wizard")
        proc.expect(r"echo: hello wizard", since=mark)
        assert "sk-test-key" not in proc.text  # the key was typed hidden, never echoed
        code, _ = proc.terminate()
        assert code == 0
    finally:
        proc.kill()
    config = load_config(isolated_home / "config.yaml")
    assert config.providers["custom"].api_key == "keyring:custom_api_key"
    assert "sk-test-key" not in (isolated_home / "config.yaml").read_text()
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-test-key"


def _wait_exit(proc: ServeProcess, timeout: float = 5.0) -> int | None:
    deadline = time.monotonic() + timeout
    while proc.proc.poll() is None and time.monotonic() < deadline:
        proc._pump(0.05)
    proc._pump(0)
    return proc.proc.poll()


@pytest.mark.parametrize("at", ["provider question", "hidden key prompt"])
def test_ctrl_c_during_first_run_setup_exits_130_and_writes_nothing(
    isolated_home: Path, at: str
) -> None:
    env = subprocess_env(isolated_home, ASSISTANT_CLI_KEYRING_PASSWORD="test-password")
    proc = ServeProcess(isolated_home, env)
    try:
        proc.expect(r"Which model provider\?", 15)
        if at == "hidden key prompt":
            proc.type("1")
            proc.expect(r"Base URL")
            proc.type("")
            proc.expect(r"Model")
            proc.type("")
            proc.expect(r"API key \(input hidden\)")
            proc.wait_echo_off()
        proc.wait_blocked_on_input()
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process
        assert _wait_exit(proc) == 130, proc.tail()
        assert "Setup cancelled" in proc.text and "was not written" in proc.text
        assert "Traceback" not in proc.text
        if at == "hidden key prompt":
            assert proc.master is not None
            assert termios.tcgetattr(proc.master)[3] & termios.ECHO, "echo left off"
    finally:
        proc.kill()
    assert not (isolated_home / "config.yaml").exists()
    assert not (isolated_home / "state" / "secrets.enc").exists()


def test_ctrl_d_during_first_run_setup_cancels_the_same_way(isolated_home: Path) -> None:
    proc = ServeProcess(isolated_home, subprocess_env(isolated_home))
    try:
        proc.expect(r"Which model provider\?", 15)
        assert proc.master is not None
        os.write(proc.master, b"\x04")  # end of input at an empty line
        assert _wait_exit(proc) == 130, proc.tail()
        assert "Setup cancelled" in proc.text and "Traceback" not in proc.text
    finally:
        proc.kill()
    assert not (isolated_home / "config.yaml").exists()


def test_first_run_without_a_keyring_says_so_before_asking_for_the_key(
    isolated_home: Path,
) -> None:
    env = subprocess_env(isolated_home, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    proc = ServeProcess(isolated_home, env)
    try:
        proc.expect(r"Which model provider\?", 15)
        proc.type("2")  # OpenRouter: needs a key
        proc.expect(r"Base URL")
        proc.type("")
        proc.expect(r"Model")
        proc.type("")
        assert _wait_exit(proc) == 1, proc.tail()
        assert "no usable keyring" in proc.text and "ASSISTANT_CLI_KEYRING_PASSWORD" in proc.text
        assert "API key" not in proc.text
    finally:
        proc.kill()
    assert not (isolated_home / "config.yaml").exists()
