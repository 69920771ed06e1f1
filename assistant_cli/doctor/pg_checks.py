"""Doctor checks of a PostgreSQL state (`state.url`): reachable, TLS, schema, lag.

The database is examined as it is: connections without migration (a missing schema is
reported, not created). The state checks (state_checks.py) ask `postgres_target()` first
and come here when the config points at PostgreSQL, so nothing is said about a SQLite file
that is not in use. The URL is only ever shown with its password masked.

psycopg and the store's PostgreSQL modules are imported inside functions: they belong to
the optional `postgres` extra, which a SQLite setup need not have.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from assistant_cli.doctor.base import DoctorContext, Result, Skip, fail, in_thread, ok, warn
from assistant_cli.errors import AssistantError, ConfigError
from assistant_cli.store.backend import state_password, state_section
from assistant_cli.store.db import Database
from assistant_cli.store.migrations import MIGRATIONS
from assistant_cli.store.pg_sql import mask_url

T = TypeVar("T")

TLS_MODES = ("require", "verify-ca", "verify-full")
REACH_FIX = ("start the server or fix state.url / state.password in config.yaml; "
             "`psql` with the same URL shows what the server says")


@dataclass(frozen=True)
class PgTarget:
    url: str
    kwargs: dict[str, Any]
    lease: float

    @property
    def shown(self) -> str:
        return mask_url(self.url)


def postgres_target(ctx: DoctorContext) -> PgTarget | None:
    """The PostgreSQL state the config names (None: the SQLite file); Skip when the state
    section or its password cannot be read."""
    def read() -> PgTarget | None:
        section = state_section(ctx.paths)
        if section is None or section.url is None:
            return None
        password = state_password(ctx.paths, section.password)
        return PgTarget(section.url, {"password": password} if password else {},
                        section.lease)

    try:
        return ctx.memo("pg_target", read)
    except ConfigError:
        raise Skip("needs a valid state section in config.yaml (see config.valid)") from None
    except AssistantError as exc:
        raise Skip(f"the state database password cannot be read: {exc.message}") from None


def open_existing(target: PgTarget, ctx: DoctorContext) -> Database:
    """The database as it is (no migration); raises AssistantError when unreachable."""
    from assistant_cli.store.pg_db import PgDatabase

    return PgDatabase(target.url, pool_size=2, migrate=False,
                      state_dir=ctx.paths.database.parent, **target.kwargs)


async def check_database(ctx: DoctorContext, target: PgTarget) -> Result:
    def probe() -> tuple[float, bool, str]:
        import psycopg

        from assistant_cli.store.pg_open import CONNECT_TIMEOUT, require_driver

        require_driver()
        started = time.monotonic()
        with psycopg.connect(target.url, connect_timeout=CONNECT_TIMEOUT,
                             **target.kwargs) as conn:
            took = time.monotonic() - started
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            return took, bool(conn.pgconn.ssl_in_use), version

    try:
        took, tls, version = await in_thread(probe)
    except AssistantError as exc:
        return fail(exc.message, exc.hint or "pip install 'assistant-cli[postgres]'")
    except Exception as exc:
        from assistant_cli.store.pg_open import first_line

        reason = first_line(exc).replace(target.url, target.shown)
        return fail(f"cannot reach {target.shown}: {reason}", REACH_FIX)
    found = f"{target.shown}: reachable in {took * 1000:.0f} ms (PostgreSQL {version})"
    wanted = _sslmode(target.url)
    if wanted in TLS_MODES and not tls:
        return fail(f"{found}, but not encrypted although sslmode={wanted}",
                    "check the server's ssl settings (ssl = on, a certificate)")
    if tls:
        return ok(f"{found}, TLS in use", latency_ms=round(took * 1000, 1), tls=True)
    if wanted is None and not _local(target.url):
        return warn(f"{found}, not encrypted", "add ?sslmode=require (or verify-full) to "
                    "state.url when the database is on another machine", tls=False)
    return ok(f"{found}, not encrypted (sslmode={wanted or 'default'})",
              latency_ms=round(took * 1000, 1), tls=False)


def schema_verdict(current: int, *, older_fix: str, newer_fix: str) -> Result:
    """The schema version found against this assistant-cli's, for either backend."""
    latest = len(MIGRATIONS)
    if current == latest:
        return ok(f"schema version {current} is current")
    if current < latest:
        return warn(f"schema version {current}; this assistant-cli uses {latest}", older_fix)
    return fail(f"schema version {current} was written by a newer assistant-cli "
                f"(this one knows {latest})", newer_fix)


async def read_existing(ctx: DoctorContext, target: PgTarget, read: Callable[[Database], T]) -> T:
    """`read(db)` on the database as it is, off the loop; Skip when it cannot be reached."""
    def run() -> T:
        db = open_existing(target, ctx)
        try:
            return read(db)
        finally:
            db.close()

    try:
        return await in_thread(run)
    except AssistantError:
        raise Skip(f"{target.shown} cannot be reached (see state.database)") from None


async def check_migrations(ctx: DoctorContext, target: PgTarget) -> Result:
    current = await read_existing(ctx, target, lambda db: db.schema_version)
    return schema_verdict(current,
                          older_fix="start `serve` (or any command that opens the state, e.g. "
                                    "`assistant-cli state info`): it migrates on open, under "
                                    "a lock",
                          newer_fix="upgrade assistant-cli on this machine")


async def check_lag(ctx: DoctorContext) -> Result:
    """Claimed-but-unfinished messages whose lease ran out, per replica."""
    target = postgres_target(ctx)
    if target is None:
        raise Skip("the state is the SQLite file: one process, nothing is leased")
    from assistant_cli.store.state_info import stale_claims

    found = await read_existing(ctx, target, lambda db: stale_claims(db, target.lease))
    if not found:
        return ok(f"no claimed message older than the lease ({target.lease:g} s)")
    shown = ", ".join(f"{s.replica}: {s.count} (oldest {s.oldest_age:.0f} s)" for s in found)
    return warn(f"claimed but unfinished past the {target.lease:g} s lease: {shown}",
                "a replica stopped or stalls: check it (`assistant-cli state info` lists "
                "replicas); the next claim on any running replica queues these again",
                stale={s.replica: s.count for s in found})


def _sslmode(url: str) -> str | None:
    from urllib.parse import parse_qs, urlsplit

    values = parse_qs(urlsplit(url).query).get("sslmode")
    return values[-1] if values else None


def _local(url: str) -> bool:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    host = parts.hostname or (parse_qs(parts.query).get("host") or [""])[-1]
    return host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
