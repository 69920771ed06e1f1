"""Doctor checks of the state directory: database integrity, schema, audit chain, modes, disk.

The database is opened as it is, never created or migrated: `Database()` would do both,
and doctor must not change what it examines. When `state.url` points at PostgreSQL, the
checks of the database go to pg_checks.py and say nothing about a SQLite file not in use.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from assistant_cli.doctor import pg_checks
from assistant_cli.doctor.base import DoctorContext, Result, Skip, fail, in_thread, ok, warn
from assistant_cli.errors import AssistantError, SecretError
from assistant_cli.store.audit import KEY_NAME, AuditLog
from assistant_cli.store.audit_anchor import any_recorded, store_anchors
from assistant_cli.store.backend import state_section
from assistant_cli.store.db import Database
from assistant_cli.store.health import RECOVER_HINT
from assistant_cli.store.undelivered import Undelivered

RECOVER_FIX = RECOVER_HINT
DISK_FAIL_BYTES = 100 * 2**20
DISK_WARN_BYTES = 1 * 2**30


def connect_existing(path: Path) -> sqlite3.Connection | None:
    """A connection to the database at `path` if the file exists (None otherwise)."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=2.0,
                           isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


class ExistingDatabase(Database):
    """A Database over an existing file, without the migration `Database()` runs on open."""

    def __init__(self, path: Path) -> None:  # deliberately not calling Database.__init__
        conn = connect_existing(path)
        if conn is None:
            raise Skip(f"no state database at {path} yet (see state.database)")
        self.path = path
        self.conn = conn


def open_existing(ctx: DoctorContext) -> Database:
    """The state database as it is: the SQLite file, or the PostgreSQL one of state.url."""
    target = pg_checks.postgres_target(ctx)
    if target is None:
        return ExistingDatabase(ctx.paths.database)
    try:
        return pg_checks.open_existing(target, ctx)
    except AssistantError:
        raise Skip(f"{target.shown} cannot be reached (see state.database)") from None


async def check_database(ctx: DoctorContext) -> Result:
    target = pg_checks.postgres_target(ctx)
    if target is not None:
        return await pg_checks.check_database(ctx, target)
    path = ctx.paths.database

    def probe() -> tuple[list[str], int] | None:
        conn = connect_existing(path)
        if conn is None:
            return None
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
        return rows, path.stat().st_size

    try:
        probed = await in_thread(probe)
    except sqlite3.Error as exc:
        return fail(f"{path} is unusable: {exc}", RECOVER_FIX)
    if probed is None:
        return fail(f"no state database at {path}",
                    "run `assistant-cli serve` once (it creates the file), or point "
                    "ASSISTANT_CLI_HOME at the directory that holds your state")
    rows, size = probed
    if rows != ["ok"]:
        return fail(f"integrity_check found {len(rows)} problem(s) in {path}: {rows[0]}",
                    RECOVER_FIX, problems=rows[:20])
    return ok(f"{path}: integrity ok ({size / 1024:.0f} KiB)")


async def check_migrations(ctx: DoctorContext) -> Result:
    target = pg_checks.postgres_target(ctx)
    if target is not None:
        return await pg_checks.check_migrations(ctx, target)

    def version() -> int:
        db = ExistingDatabase(ctx.paths.database)
        try:
            return db.schema_version
        finally:
            db.close()

    try:
        current = await in_thread(version)
    except sqlite3.Error as exc:
        raise Skip(f"the database cannot be read: {exc} (see state.database)") from None
    return pg_checks.schema_verdict(
        current,
        older_fix="back up state.db, then run `assistant-cli serve` (or any command that "
                  "opens the state, e.g. `pairing list`): it migrates on open",
        newer_fix="upgrade assistant-cli, or point ASSISTANT_CLI_HOME at another directory")


async def check_audit(ctx: DoctorContext) -> Result:
    store = ctx.store()

    def verify() -> Result:
        db = open_existing(ctx)
        anchors = store_anchors(db, store)
        try:
            count = int(db.execute("SELECT count(*) FROM audit").fetchone()[0])
            if count == 0 and not any_recorded(anchors):
                return ok("no audit entries yet")
            key = store.get(KEY_NAME)
            if not key:
                return fail(f"{count} audit entries but the key {KEY_NAME!r} is not in the "
                            f"keyring ({store.backend_name}), so they cannot be verified",
                            "restore the keyring this state was used with (or the "
                            "ASSISTANT_CLI_KEYRING_PASSWORD of its encrypted file)")
            intact, summary = AuditLog(db, lambda: bytes.fromhex(key), anchors).verify()
        finally:
            db.close()
        if not intact:
            return fail(f"audit chain broken: {summary}",
                        "the log was changed outside assistant-cli: keep a copy of the state "
                        "for investigation; `assistant-cli audit list` shows the entries; "
                        "once understood, `assistant-cli audit verify --reanchor` accepts the "
                        "log as it is now")
        return ok(f"audit chain intact ({summary})")

    try:
        return await in_thread(verify)
    except SecretError as exc:
        return fail(f"cannot read the audit key: {exc.message}", exc.hint or
                    "fix the keyring first (see secrets.keyring)")
    except sqlite3.Error as exc:
        raise Skip(f"the database cannot be read: {exc} (see state.database)") from None


def _private_paths(ctx: DoctorContext) -> list[tuple[Path, int]]:
    """Paths that must not be readable by group or others, with the mode we would give them."""
    p = ctx.paths
    items: list[tuple[Path, int]] = [(p.config_file, 0o600), (p.state_dir, 0o700),
                                     (p.log_dir, 0o700), (p.secrets_file, 0o600)]
    items += [(Path(f"{p.database}{suffix}"), 0o600) for suffix in ("", "-wal", "-shm")]
    if p.log_dir.is_dir():
        items += [(f, 0o600) for f in sorted(p.log_dir.glob(f"{p.log_file.name}*"))]
    return items


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _exposed(path: Path, mode: int) -> bool:
    """Group or others can get at it: its own mode, and (for a file) its directory's."""
    if not mode & 0o077:
        return False
    if path.is_dir():
        return True
    # Nobody else can reach a file in a directory they may not enter (no x bit), whatever
    # its own mode. SQLite's -wal/-shm start out at the umask's mode inside state/ (0700).
    return bool(_mode(path.parent) & 0o011)


def _problems(ctx: DoctorContext) -> tuple[list[str], list[Path], list[str]]:
    """(exposed paths, missing directories we can create, directories we cannot create)."""
    loose, missing, blocked = [], [], []
    for path, want in _private_paths(ctx):
        try:
            mode = _mode(path)
        except FileNotFoundError:
            if want != 0o700:
                continue
            parent = path.parent
            while not parent.exists() and parent != parent.parent:
                parent = parent.parent
            if os.access(parent, os.W_OK | os.X_OK):
                missing.append(path)
            else:
                blocked.append(f"{path} (in {parent}, which is not writable)")
            continue
        if _exposed(path, mode):
            loose.append(f"{path} is {mode:o} (wants {want:o})")
    return loose, missing, blocked


async def check_permissions(ctx: DoctorContext) -> Result:
    loose, missing, blocked = await in_thread(_problems, ctx)
    later = ""
    if missing:
        later = (f"; not created yet: {', '.join(map(str, missing))} (serve creates them; "
                 "--fix creates them now)")
    if blocked:
        return fail(f"cannot be created: {'; '.join(blocked)}",
                    "make that directory writable for you, or set ASSISTANT_CLI_HOME to a "
                    "directory you own")
    if loose:
        return warn(f"group or others can read: {'; '.join(loose)}{later}",
                    "`assistant-cli doctor --fix` runs chmod 600 on these files and 700 on "
                    "the directories", fixable=True)
    return Result("ok", f"config, state and logs are private to you{later}",
                  fixable=bool(missing))


async def fix_permissions(ctx: DoctorContext) -> list[str]:
    def work() -> list[str]:
        changes = []
        for path, want in _private_paths(ctx):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:
                if want == 0o700:
                    path.mkdir(parents=True, mode=0o700, exist_ok=True)
                    path.chmod(0o700)
                    changes.append(f"created {path} (mode 700)")
                continue
            if mode & 0o077:
                path.chmod(want)
                changes.append(f"chmod {want:o} {path} (was {mode:o})")
        return changes

    return await in_thread(work)


async def check_disk(ctx: DoctorContext) -> Result:
    def usage() -> tuple[Path, int, bool]:
        where = ctx.paths.state_dir
        while not where.exists() and where != where.parent:
            where = where.parent
        return where, shutil.disk_usage(where).free, _on_postgres(ctx)

    where, free, postgres = await in_thread(usage)
    shown = f"{free / 2**30:.1f} GiB free" if free >= 2**30 else f"{free / 2**20:.0f} MiB free"
    fix = (f"free space on the file system of {where} (old logs: "
           f"{ctx.paths.log_dir}), or move ASSISTANT_CLI_HOME to a larger disk")
    if free < DISK_FAIL_BYTES:
        if postgres:
            return fail(f"only {shown} for {where}: logs and audit anchors cannot be written "
                        "when full (the state itself is in PostgreSQL)", fix)
        return fail(f"only {shown} for {where}: the inbox cannot accept messages when full", fix)
    if free < DISK_WARN_BYTES:
        return warn(f"only {shown} for {where}", fix)
    return ok(f"{shown} for {where}")


def _on_postgres(ctx: DoctorContext) -> bool:
    """The state is in PostgreSQL (blocking: reads config.yaml)."""
    try:
        section = state_section(ctx.paths)
    except AssistantError:
        return False
    return section is not None and section.url is not None


async def check_undelivered(ctx: DoctorContext) -> Result:
    def count() -> tuple[int, int]:
        db = open_existing(ctx)
        try:
            counts = Undelivered(db).counts()
        finally:
            db.close()
        return counts.failed, counts.waiting

    try:
        failed, waiting = await in_thread(count)
    except sqlite3.Error as exc:
        raise Skip(f"the inbox cannot be read: {exc} (see state.database, state.migrations)"
                   ) from None
    later = f"; {waiting} waiting for a retry after a failed send" if waiting else ""
    if failed:
        return warn(f"{failed} message(s) were given up unanswered{later}",
                    "`assistant-cli inbox failed` shows why; once the cause is fixed, "
                    "`assistant-cli inbox retry --all` sends them again",
                    failed=failed, waiting=waiting)
    return ok(f"no given-up messages{later}", failed=0, waiting=waiting)
