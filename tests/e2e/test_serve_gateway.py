"""End to end: `serve` prints a dashboard URL with a token that works; flags; `gateway token`."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from assistant_cli.gateway.tokens import AUDIENCE, key_id
from tests.conftest import cli_command, subprocess_env
from tests.e2e.ptyproc import ServeProcess
from tests.e2e.test_serve_console import ServeStarter, write_config
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e

URL_RE = (r"dashboard \(token valid 1 h\): assistant-cli dashboard "
          r"'(http://127\.0\.0\.1:\d+/\?token=(eyJ[\w.-]+))'")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def _status(base: str, token: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(base.replace("http", "ws", 1) + "/ws",
                                      headers={"Authorization": f"Bearer {token}"})
        await ws.send_json({"type": "req", "id": "s", "method": "status"})
        while True:
            frame = await ws.receive_json(timeout=5)
            if frame["type"] == "res":
                await ws.close()
                return frame["result"]  # type: ignore[no-any-return]


def test_serve_prints_a_working_dashboard_url_and_the_command(
    isolated_home: Path, fake: FakeOpenAI
) -> None:
    write_config(isolated_home, fake)
    starter = ServeStarter(isolated_home, fake)
    starter.env["ASSISTANT_CLI_KEYRING_PASSWORD"] = "e2e-password"
    try:
        proc = starter()
        match = proc.expect(URL_RE)
        url, token = match.group(1), match.group(2)
        base = url.split("/?", 1)[0]
        status = asyncio.run(_status(base, token))
        assert status["ready"] is True and status["channels"]["console"]["ready"] is True
        # The CLI mints tokens for the same gateway (found through state/gateway.json).
        minted = subprocess.run(
            [*cli_command(), "gateway", "token", "--ttl", "10m", "--sub", "ci", "--url"],
            env=starter.env, capture_output=True, text=True, timeout=30)
        assert minted.returncode == 0, minted.stderr
        minted_base, _, minted_token = minted.stdout.strip().partition("/?token=")
        assert minted_base == base
        assert asyncio.run(_status(base, minted_token))["subject"] == "ci"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
            assert b"assistant_messages_received_total" in resp.read()
        code, _ = proc.terminate()
        assert code == 0
        logged = (isolated_home / "state" / "logs" / "assistant-cli.jsonl").read_text()
        assert token not in logged and minted_token not in logged
        assert not (isolated_home / "state" / "gateway.json").exists()
    finally:
        for p in starter.started:
            p.kill()


def _serve_lines(home: Path, args: list[str], env: dict[str, str], until: str) -> tuple[str, int]:
    """Run `serve ARGS` until a line matching `until` (or exit); returns (stderr, exit code)."""
    proc = subprocess.Popen([*cli_command(), "serve", *args], env=env, cwd=home,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if re.search(until, line):
                break
    finally:
        proc.terminate()
        code = proc.wait(10)
    return "".join(lines), code


def test_serve_flags_set_secret_and_origins_and_warn(isolated_home: Path, fake: FakeOpenAI) -> None:
    write_config(isolated_home, fake)
    secret = "e2e-" + "k" * 40
    env = subprocess_env(isolated_home, FAKE_OPENAI_KEY=fake.api_key or "", GW_SECRET=secret)
    proc = ServeProcess(isolated_home, env, ("serve", "--host", "127.0.0.1", "--port", "0",
                                             "--allowed-origins", "*", "--jwt-secret",
                                             "env:GW_SECRET"))
    try:
        token = proc.expect(URL_RE, 20)  # the token is printed to a terminal only
        assert "warning: allowed origins include '*'" in proc.text
    finally:
        proc.kill()
    claims = jwt.decode(token.group(2), secret, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == 3600  # gateway.token_ttl: 1 h by default
    assert jwt.get_unverified_header(token.group(2))["kid"] == key_id(secret)


def test_unreadable_tls_file_stops_serve_with_the_file_named(
    isolated_home: Path, fake: FakeOpenAI
) -> None:
    write_config(isolated_home, fake)
    env = subprocess_env(isolated_home, FAKE_OPENAI_KEY=fake.api_key or "")
    missing = isolated_home / "missing.pem"
    err, code = _serve_lines(isolated_home, ["--tls-cert", str(missing), "--tls-key",
                                             str(missing)], env, until="^$")
    assert code == 2, err
    assert f"error: gateway.tls_cert: {missing} does not exist" in err
    assert "Traceback" not in err


def test_dashboard_refuses_a_url_without_a_token(isolated_home: Path) -> None:
    for url, words in (("http://127.0.0.1:8080/", "the URL has no ?token="),
                       ("ftp://x", "is not a gateway URL")):
        result = subprocess.run([*cli_command(), "dashboard", url],
                                env=subprocess_env(isolated_home), capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 2 and words in result.stderr, result.stderr
