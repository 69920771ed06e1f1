"""End to end: the first `serve` in a terminal asks for a provider, stores the key, starts."""

from __future__ import annotations

import re
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
