"""The PostgreSQL schema, generated from the SQLite migrations (store/migrations.py).

One description for both backends: each migration is translated statement by statement
(`INTEGER PRIMARY KEY` rowid aliases become identity-like BIGSERIAL keys, INTEGER becomes
BIGINT, REAL DOUBLE PRECISION, TEXT compares byte by byte like SQLite's BINARY collation),
and the database's version is the number of migrations applied, as SQLite's user_version.
Migrations run under an advisory lock inside their transaction, so replicas starting
together apply each one once, and a database written by a newer assistant-cli is refused.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

from assistant_cli.store.migrations import MIGRATIONS

SCHEMA_LOCK = 0x61737369  # pg_advisory_xact_lock key while the schema is created
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
SCHEMA_VERSION = len(MIGRATIONS)

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bINTEGER PRIMARY KEY\b(?!\s*\()"), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
]


def translate(statement: str) -> str:
    """One SQLite DDL statement of a migration, as PostgreSQL DDL."""
    if not statement.lstrip().upper().startswith(("CREATE TABLE", "ALTER TABLE")):
        return statement.strip()
    out = statement.strip()
    for pattern, replacement in _RULES:
        out = pattern.sub(replacement, out)
    # A key referencing a BIGSERIAL rowid alias is itself INTEGER PRIMARY KEY in SQLite.
    return out.replace("BIGSERIAL PRIMARY KEY REFERENCES", "BIGINT PRIMARY KEY REFERENCES")


def statements(script: str) -> list[str]:
    return [s for s in script.split(";\n") if s.strip()]


@cache
def migration(version: int) -> tuple[str, ...]:
    """The PostgreSQL statements of migration `version` (1-based)."""
    return tuple(translate(s) for s in statements(MIGRATIONS[version - 1]))


def full_schema() -> str:
    """Every table and index, for reading (the database itself is built by migrations)."""
    return ";\n".join([VERSION_TABLE] + [s for v in range(1, SCHEMA_VERSION + 1)
                                         for s in migration(v)])


def tables() -> list[str]:
    """The tables of the state, in the order their migrations create them (parents first)."""
    found: list[str] = []
    for script in MIGRATIONS:
        found += re.findall(r"CREATE TABLE (\w+)", script)
    return found


def lock_key(name: str) -> int:
    """A stable advisory-lock key (signed 64-bit) for a name such as `audit`."""
    digest = hashlib.sha256(f"assistant-cli:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def newer_schema_message(current: int) -> str:
    return (f"the database was written by a newer assistant-cli (schema {current}; "
            f"this one knows {SCHEMA_VERSION})")
