"""The stores' SQL on PostgreSQL: placeholders, rows like sqlite3.Row, URL masking.

The stores write `?` placeholders (SQLite's); psycopg wants `%s` and a literal `%` doubled.
`to_pg()` is the one place that translates, once per statement text (cached). SQLite's
implicit `rowid` becomes `ctid`, the physical row order: the insertion order of the
append-only tables that ask for it (delivery_status).

psycopg is imported inside functions: it is the optional `postgres` extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from psycopg import Connection, Cursor

_ROWID = re.compile(r"\browid\b")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    masked = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", masked)


def plain_url(url: str) -> str:
    """The URL without any password (in the user part or a `password=` parameter): what
    names the database, fit for config.yaml and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_url(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = "&".join(p for p in parts.query.split("&")
                     if p and not p.lower().startswith("password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@lru_cache(maxsize=2048)
def to_pg(sql: str) -> str:
    """`?` → `%s` outside string literals, `%` → `%%`, `rowid` → `ctid`."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif ch == "?" and not quoted:
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return _ROWID.sub("ctid", "".join(out))


class Row(tuple):  # type: ignore[type-arg]
    """A result row: `row[0]` and `row["name"]`, like sqlite3.Row."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def row_factory(cursor: Cursor[Any]) -> Any:
    """psycopg row factory making `Row`s."""
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)

    return make


class Result:
    """A statement's rows read in full (its connection went back to the pool)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest = self._rows[self._next:]
        self._next = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def query(conn: Connection[Any], sql: str, params: Sequence[Any] | None) -> Result:
    """Run one statement and read its rows in full."""
    cur = conn.cursor(row_factory=row_factory)
    if params:
        cur.execute(to_pg(sql), tuple(params))
    else:
        cur.execute(sql)
    rows = cur.fetchall() if cur.description is not None else []
    return Result(rows, cur.rowcount)


class PgConn:
    """A pooled connection inside a transaction, speaking the stores' `?` SQL."""

    def __init__(self, conn: Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Result:
        return query(self.raw, sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Result:
        cur = self.raw.cursor()
        cur.executemany(to_pg(sql), [tuple(p) for p in parameters])
        return Result([], cur.rowcount)


def is_pg_storage_error(exc: BaseException) -> bool:
    """True when the database itself cannot be used (connection lost, server gone, disk
    full, read-only), not when a statement is wrong or a row conflicts."""
    try:
        import psycopg
        from psycopg_pool import PoolTimeout
    except ImportError:
        return False
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.Error) and sqlstate[:2] in ("08", "53", "57", "58", "25")
