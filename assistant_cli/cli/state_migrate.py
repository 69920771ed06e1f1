"""The work of `assistant-cli state migrate`: open both databases, copy, check, report.

A progress bar on a terminal (one line per table), plain `table: copied/total` lines when
piped. The target's password comes from --password-env, else from state.password of
config.yaml; it is never printed (URLs are shown masked).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from assistant_cli.cli import output
from assistant_cli.cli.common import CliState
from assistant_cli.errors import StateError, UsageError
from assistant_cli.store.pg_sql import mask_url, plain_url
from assistant_cli.store.state_copy import Progress

if TYPE_CHECKING:
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.db import Database


def run_migrate(state: CliState, url: str, password_env: str | None, batch: int) -> None:
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import open_audit
    from assistant_cli.store.db import Database
    from assistant_cli.store.pg_db import PgDatabase
    from assistant_cli.store.state_copy import copy_state

    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"--to {mask_url(url)!r} is not a PostgreSQL URL",
                         hint="e.g. --to postgresql://assistant@db.internal:5432/assistant")
    paths = state.paths
    if not paths.database.exists():
        raise UsageError(f"no SQLite state at {paths.database} to copy",
                         hint="point ASSISTANT_CLI_HOME (or --config) at the installation "
                              "whose state you want to move")
    password = _password(state, password_env)
    source = Database(paths.database)
    try:
        store = SecretStore(paths, source)
        open_audit(source, store).append("state.migrate", plain_url(url), "started")
        target = PgDatabase(url, password=password, pool_size=2, state_dir=paths.state_dir)
        try:
            started = time.monotonic()
            with _progress() as progress:
                report = copy_state(source, target, progress, batch=batch)
            audit_ok, audit_summary = _verify_audit(target, store)
        finally:
            target.close()
    finally:
        source.close()
    _report(url, report.counts, report.mismatched, audit_ok, audit_summary,
            time.monotonic() - started)


def _password(state: CliState, password_env: str | None) -> str | None:
    from assistant_cli.store.backend import state_password, state_section

    if password_env is not None:
        value = os.environ.get(password_env)
        if not value:
            raise UsageError(f"--password-env {password_env}: the variable is not set",
                             hint=f"export {password_env}=... first")
        return value
    section = state_section(state.paths)
    return state_password(state.paths, section.password) if section else None


def _verify_audit(target: Database, store: SecretStore) -> tuple[bool, str]:
    """The copied chain, verified with the audit key (kept in this machine's keyring)."""
    from assistant_cli.store.audit import KEY_NAME, AuditLog

    key = store.get(KEY_NAME)
    if not key:
        return False, f"the audit key {KEY_NAME!r} is not in the keyring, so it cannot be checked"
    return AuditLog(target, lambda: bytes.fromhex(key)).verify()


@contextmanager
def _progress() -> Iterator[Progress]:
    if not output.stdout_is_tty():
        def plain(table: str, done: int, total: int) -> None:
            if done or not total:  # each batch, and an empty table once
                print(f"{table}: {done}/{total}", flush=True)

        yield plain
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    with Bar(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn()) as bar:
        tasks: dict[str, TaskID] = {}

        def update(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=max(total, 1))
            bar.update(tasks[table], completed=done if total else 1)

        yield update


def _report(url: str, counts: dict[str, int], mismatched: dict[str, tuple[int, int]],
            audit_ok: bool, audit_summary: str, seconds: float) -> None:
    total = sum(counts.values())
    if mismatched:
        shown = "; ".join(f"{t}: {s} here, {d} there" for t, (s, d) in mismatched.items())
        raise StateError(f"copied into {mask_url(url)}, but row counts differ: {shown}",
                         hint="did `serve` run during the copy? stop it and run the same "
                              "command again (it is safe to re-run)")
    print(f"copied {total} rows of {len(counts)} tables to {mask_url(url)} in "
          f"{seconds:.1f} s; row counts match")
    if not audit_ok:
        print(f"error: audit chain not verified: {audit_summary}", file=sys.stderr)
        raise SystemExit(1)
    print(f"audit chain verified: {audit_summary}")
    print(f"next: in config.yaml set state.url: {plain_url(url)} (and state.password: "
          "keyring:NAME), then start `serve`")
