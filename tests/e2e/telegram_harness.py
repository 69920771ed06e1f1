"""Running `assistant-cli serve` (and the CLI beside it) against the fake Telegram Bot API."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_command, subprocess_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

READY_RE = re.compile(r"assistant-cli ready · channels: telegram.* gateway: (http://\S+)")
START_TIMEOUT = 10.0
HOOK_SECRET = "e2e_webhook-Secret_42"


def new_token() -> str:
    # Unique per test: the poller lock is machine-wide and keyed by the token.
    return f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"


def child_env(home: Path, token: str, model: FakeOpenAI) -> dict[str, str]:
    # One keyring password for serve and the CLI: they share the audit log's HMAC key.
    return subprocess_env(home, TG_TOKEN=token, TG_HOOK=HOOK_SECRET,
                          FAKE_OPENAI_KEY=model.api_key or "",
                          ASSISTANT_CLI_KEYRING_PASSWORD="test-password")


def write_config(home: Path, tg: FakeTelegram, model: FakeOpenAI, *, dm_policy: str = "open",
                 telegram: str = "", gateway_port: int = 0, extra: str = "") -> None:
    """`telegram` is extra YAML lines for platforms.telegram (each indented by 4); `extra`
    is appended at the top level."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        "version: 1\n"
        "platforms:\n"
        "  console:\n    enabled: false\n"
        "  telegram:\n"
        "    api_token: env:TG_TOKEN\n"
        f"    base_url: {tg.base_url}\n"
        f"    dm_policy: {dm_policy}\n"
        "    poll_timeout: 5\n"
        f"{telegram}"
        "providers:\n"
        "  fake:\n"
        f"    base_url: {model.base_url}\n"
        f"    model: {model.model}\n"
        "    api_key: env:FAKE_OPENAI_KEY\n"
        "    timeout: 10\n"
        f"gateway:\n  port: {gateway_port}\n"
        f"{extra}",
        encoding="utf-8",
    )


class Serve:
    """One `serve` child; its output goes to a file so a full pipe can never stall it."""

    def __init__(self, home: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.out_path = home / f"serve-{time.monotonic_ns()}.out"
        self.gateway = ""
        self.env = env
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                [*cli_command(), "serve", *args], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True)

    @property
    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not (match := READY_RE.search(self.output)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve not ready (exit {self.proc.poll()}):\n{self.output[-2000:]}")
            time.sleep(0.05)
        self.gateway = match.group(1)

    @property
    def dashboard_token(self) -> str:
        """A token minted as the owner would (serve prints none into a pipe or journal)."""
        minted = subprocess.run([*cli_command(), "gateway", "token", "--ttl", "10m"],
                                env=self.env, capture_output=True, text=True, timeout=30)
        assert minted.returncode == 0, minted.stderr
        return minted.stdout.strip()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


class Starter:
    """Writes the config and starts `serve` children; the fixture kills them all at the end."""

    def __init__(self, home: Path, tg: FakeTelegram, model: FakeOpenAI) -> None:
        self.home, self.tg, self.model = home, tg, model
        self.env = child_env(home, tg.token, model)
        self.started: list[Serve] = []
        write_config(home, tg, model)

    def configure(self, **settings: Any) -> None:
        write_config(self.home, self.tg, self.model, **settings)

    def __call__(self) -> Serve:
        proc = Serve(self.home, self.env)
        self.started.append(proc)
        proc.wait_ready()
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli_command(), *args], capture_output=True, text=True,
                              env=self.env, stdin=subprocess.DEVNULL, timeout=30)


def wait(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def inbox_rows(home: Path) -> list[tuple[Any, ...]]:
    """(external_id, status, outcome) of every stored message, oldest first."""
    db = home / "state" / "state.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT external_id, status, outcome FROM inbox ORDER BY id").fetchall()]
    finally:
        conn.close()


def http(method: str, url: str, body: object = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of one plain HTTP call; error statuses are returned too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
