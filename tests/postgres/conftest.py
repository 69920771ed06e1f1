"""A real PostgreSQL server for these tests: one per session, a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg as pg
import pytest

from tests.pg_server import PgServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database on the session's server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg.connect(pg_server.uri, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield pg_server.uri.replace("/postgres?", f"/{name}?")
    with pg.connect(pg_server.uri, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
