"""Both state backends behind one fixture: `state_db` is a migrated SQLite file or a
migrated PostgreSQL database (a fresh one per test on the session's server; `pg_server`
and `pg_url` live in tests/conftest.py so end-to-end tests can use them too)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant_cli.store.db import Database

OpenDb = Callable[[], Database]


@pytest.fixture(params=["sqlite", "postgres"])
def open_state_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenDb]:
    """Opens the same state database again (as another process or replica would); every
    opened one is closed after the test."""
    opened: list[Database] = []
    if request.param == "sqlite":
        def make() -> Database:
            opened.append(Database(tmp_path / "state.db"))
            return opened[-1]
    else:
        from assistant_cli.store.pg_db import PgDatabase

        url = request.getfixturevalue("pg_url")

        def make() -> Database:
            opened.append(PgDatabase(url, pool_size=4, state_dir=tmp_path))
            return opened[-1]
    yield make
    for db in opened:
        db.close()


@pytest.fixture
def state_db(open_state_db: OpenDb) -> Database:
    """A migrated state database of the parametrised backend."""
    return open_state_db()
