"""Fixtures for `serve` replicas on one PostgreSQL database (a real embedded server)."""

from __future__ import annotations

from tests.e2e.conftest import model, start, tg
from tests.postgres.conftest import pg_server, pg_url

__all__ = ["model", "pg_server", "pg_url", "start", "tg"]
