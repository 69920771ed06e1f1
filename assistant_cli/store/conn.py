"""What the stores ask of a connection, whichever backend gives it.

`Database.transaction()` and `Database.write()` hand the stores a connection: SQLite's own
`sqlite3.Connection`, or on PostgreSQL a `store.pg_db.PgConn` that takes the same `?`
placeholders. The stores use only what is listed here, so their SQL runs on both; rows
are indexed by column name and by position (sqlite3.Row, store.pg_db.Row).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol


class Cursor(Protocol):
    """The result of one statement: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection inside a transaction: statements with `?` placeholders."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...
