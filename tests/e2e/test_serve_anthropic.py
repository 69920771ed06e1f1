"""End to end: `assistant-cli serve` answering in a terminal through an Anthropic provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import subprocess_env
from tests.e2e.ptyproc import ServeProcess
from tests.fakes.anthropic_server import FakeAnthropic

pytestmark = pytest.mark.e2e


def test_serve_streams_an_answer_from_an_anthropic_provider(isolated_home: Path) -> None:
    with FakeAnthropic(token_delay=0.02) as fake:
        (isolated_home / "config.yaml").write_text(
            "version: 1\n"
            "providers:\n"
            "  claude:\n"
            "    kind: anthropic\n"
            f"    base_url: {fake.base_url}\n"
            f"    model: {fake.model}\n"
            "    api_key: env:FAKE_ANTHROPIC_KEY\n"
            "    timeout: 10\n"
            "gateway:\n"
            "  port: 0\n",
            encoding="utf-8",
        )
        # The encrypted-file keyring: subprocesses cannot share the in-memory one.
        env = subprocess_env(isolated_home, FAKE_ANTHROPIC_KEY=fake.api_key or "",
                             ASSISTANT_CLI_KEYRING_PASSWORD="e2e-test-password")
        proc = ServeProcess(isolated_home, env)
        try:
            proc.wait_ready()
            mark = proc.type("hello claude")
            proc.expect(r"assistant > echo: hello claude", since=mark)
            code, _ = proc.terminate()
            assert code == 0, proc.tail()
        finally:
            proc.kill()
        sent = fake.requests[0]
        assert sent.headers["x-api-key"] == fake.api_key
        assert sent.body["stream"] is True and sent.body["system"]
        assert sent.body["messages"][-1] == {"role": "user", "content": "hello claude"}
