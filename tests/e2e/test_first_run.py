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


def _custom_server_with_key(proc: ServeProcess, base_url: str, timeout: float = 10) -> None:
    """Answer: another OpenAI-compatible server at `base_url`, with the fake's key."""
    proc.expect(r"Which model provider\?", timeout)
    proc.type("4")
    proc.expect(r"Base URL")
    proc.type(base_url)
    proc.expect(r"Does it need an API key\?")
    proc.type("y")
    proc.expect(r"API key \(input hidden\)")
    proc.wait_echo_off()
    proc.type("sk-test-key")


def test_first_run_walks_through_setup_then_chats(isolated_home: Path, fake: FakeOpenAI) -> None:
    env = subprocess_env(isolated_home, ASSISTANT_CLI_KEYRING_PASSWORD="test-password")
    proc = ServeProcess(isolated_home, env, ("serve", "--port", "0"))
    try:
        _custom_server_with_key(proc, fake.base_url, timeout=15)
        assert "Where should secrets live" not in proc.text  # the encrypted file answers
        proc.expect(r"offers 1 model\(s\):\s+1\. fake-model")  # GET /v1/models, with the key
        proc.expect(r"Model \(a number above, or a name\)")
        proc.type("1")
        proc.expect(r"ok: ")  # the tiny test call went through
        proc.expect(r"Stored the key in encrypted file")
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
    assert config.providers["custom"].model == "fake-model"
    assert config.gateway.port == 0  # `serve --port 0` on first run is written down
    assert "sk-test-key" not in (isolated_home / "config.yaml").read_text()
    assert all(r.headers["Authorization"] == "Bearer sk-test-key" for r in fake.requests)
    assert not (isolated_home / "state" / "first-run-answers.json").exists()


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
    proc = ServeProcess(isolated_home, subprocess_env(
        isolated_home, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))
    try:
        proc.expect(r"Where should secrets live\?", 15)  # the first question without keyring
        assert proc.master is not None
        os.write(proc.master, b"\x04")  # end of input at an empty line
        assert _wait_exit(proc) == 130, proc.tail()
        assert "Setup cancelled" in proc.text and "Traceback" not in proc.text
    finally:
        proc.kill()
    assert not (isolated_home / "config.yaml").exists()


NO_KEYRING = "keyring.backends.fail.Keyring"


def test_first_run_without_a_keyring_offers_the_encrypted_file_before_any_question(
    isolated_home: Path, fake: FakeOpenAI,
) -> None:
    env = subprocess_env(isolated_home, PYTHON_KEYRING_BACKEND=NO_KEYRING)
    proc = ServeProcess(isolated_home, env, ("serve", "--port", "0"))
    try:
        proc.expect(r"no usable keyring.*\n.*choose one now", 15)
        proc.expect(r"Where should secrets live\?")
        assert "Which model provider" not in proc.text  # asked before the first question
        proc.type("1")
        proc.expect(r"Password for the encrypted file")
        proc.wait_echo_off()
        proc.type("file-password")
        proc.expect(r"The same password again")
        proc.wait_echo_off()
        proc.type("file-password")
        proc.expect(r"LoadCredential=")  # says how a service gets the password later
        _custom_server_with_key(proc, fake.base_url)
        proc.expect(r"Model \(a number above, or a name\)")
        proc.type("")
        proc.expect(r"Stored the key in encrypted file")
        proc.expect(READY_RE.pattern, 15)
        assert "file-password" not in proc.text
        code, _ = proc.terminate()
        assert code == 0
    finally:
        proc.kill()
    assert (isolated_home / "state" / "secrets.enc").exists()
    assert "file-password" not in (isolated_home / "config.yaml").read_text()


def test_failed_test_call_writes_nothing_and_keeps_the_answers_as_defaults(
    isolated_home: Path, fake: FakeOpenAI,
) -> None:
    """An env: reference, a wrong key: the test call fails, the user declines to keep it;
    the next start offers every answer again."""
    env = subprocess_env(isolated_home, PYTHON_KEYRING_BACKEND=NO_KEYRING)
    proc = ServeProcess(isolated_home, env)
    try:
        proc.expect(r"Where should secrets live\?", 15)
        proc.type("2")
        proc.expect(r"Which model provider\?")
        proc.type("4")
        proc.expect(r"Base URL")
        proc.type(fake.base_url)
        proc.expect(r"Does it need an API key\?")
        proc.type("y")
        proc.expect(r"Environment variable that will hold the key")
        proc.type("MY_LLM_KEY")
        proc.expect(r"API key, for this run only")
        proc.wait_echo_off()
        proc.type("sk-wrong")
        proc.expect(r"Could not list the server's models")
        proc.expect(r"Model")
        proc.type("fake-model")
        proc.expect(r"The test call failed")
        proc.expect(r"Write the config anyway")
        proc.type("n")
        assert _wait_exit(proc, 10) == 1, proc.tail()
    finally:
        proc.kill()
    assert not (isolated_home / "config.yaml").exists()
    kept = (isolated_home / "state" / "first-run-answers.json").read_text()
    assert "MY_LLM_KEY" in kept and "fake-model" in kept and "sk-wrong" not in kept
    proc = ServeProcess(isolated_home, env)
    try:
        proc.expect(r"Where should secrets live\?", 15)
        proc.type("2")
        proc.expect(r"Which model provider\? .*\(4\)")
        proc.type("")
        proc.expect(re.escape(f"Base URL ({fake.base_url})"))
    finally:
        proc.kill()


def test_another_keyring_backend_can_be_named_and_a_bad_name_is_offered_again(
    isolated_home: Path,
) -> None:
    proc = ServeProcess(isolated_home, subprocess_env(isolated_home,
                                                      PYTHON_KEYRING_BACKEND=NO_KEYRING))
    try:
        proc.expect(r"Where should secrets live\?", 15)
        proc.type("3")
        proc.expect(r"Keyring backend class")
        mark = proc.type("no.such.Backend")
        proc.expect(r"That backend cannot be used: .*choose again", since=mark)
        mark = proc.type("3")
        proc.expect(r"Keyring backend class", since=mark)
        mark = proc.type("tests.memkeyring.MemoryKeyring")
        proc.expect(r"Later starts need\s+PYTHON_KEYRING_BACKEND=tests\.memkeyring\.MemoryKeyring",
                    since=mark)
        proc.expect(r"Which model provider\?")
    finally:
        proc.kill()
