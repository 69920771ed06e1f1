"""Doctor checks of secrets: the keyring answers, referenced secrets exist, rotation is due."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from assistant_cli.doctor import pg_checks, state_checks
from assistant_cli.doctor.base import DoctorContext, Result, fail, in_thread, ok, warn
from assistant_cli.doctor.state_checks import connect_existing
from assistant_cli.errors import ConfigError, KeyringUnavailable, SecretError
from assistant_cli.gateway.tokens import MIN_SECRET_LENGTH, new_secret
from assistant_cli.secrets.references import (
    INTERNAL_SECRETS,
    Loc,
    references,
    rotate_command,
)
from assistant_cli.secrets.rotation import record
from assistant_cli.store.audit import KEY_NAME

if TYPE_CHECKING:
    pass

def is_generatable(loc: Loc) -> bool:
    """Secrets we choose ourselves, so `doctor --fix` may create them when missing."""
    return loc[0] == "gateway" and loc[-1] == "jwt_secret"


async def check_keyring(ctx: DoctorContext) -> Result:
    store = ctx.store()

    def probe() -> str:
        store.get(KEY_NAME)  # a read proves the backend answers, not just that it loads
        return str(store.backend_name)

    try:
        name = await in_thread(probe)
    except KeyringUnavailable as exc:
        return fail(exc.message, exc.hint or "")
    except SecretError as exc:
        return fail(f"the keyring does not answer: {exc.message}", _KEYRING_FIX)
    return ok(f"{name} answers")


_KEYRING_FIX = ("unlock the keyring (log in to the desktop session, or start gnome-keyring / "
                "KeePassXC's Secret Service), or set ASSISTANT_CLI_KEYRING_PASSWORD to use the "
                "encrypted file instead")
KEYRING_TIMEOUT_FIX = "the keyring did not answer in time: " + _KEYRING_FIX


async def check_present(ctx: DoctorContext) -> Result:
    config = ctx.config()
    refs = references(config, used_only=True)
    if not refs:
        return ok("the config references no secrets")
    store = ctx.store()

    def scan() -> tuple[list[tuple[Loc, str]], list[str]]:
        missing, weak = [], []
        for loc, ref in refs:
            value = os.environ.get(ref[4:]) if ref.startswith("env:") else store.get(ref[8:])
            if not value:
                missing.append((loc, ref))
            elif is_generatable(loc) and len(value) < MIN_SECRET_LENGTH:
                weak.append(f"{'.'.join(loc)} ({ref}) is {len(value)} characters long; "
                            f"at least {MIN_SECRET_LENGTH} are needed")
        return missing, weak

    try:
        missing, weak = await in_thread(scan)
    except SecretError as exc:
        return fail(f"cannot read secrets: {exc.message}", exc.hint or _KEYRING_FIX)
    if weak:
        return fail("; ".join(weak), "use a long random value (`openssl rand -base64 32`), "
                    "or `assistant-cli secrets rotate gateway_jwt_secret` for a keyring one")
    if not missing:
        return ok(f"all {len(refs)} referenced secret(s) are present")
    shown = [f"{'.'.join(loc)} → {ref}" for loc, ref in missing]
    fixes = []
    for loc, ref in missing:
        if ref.startswith("env:"):
            fixes.append(f"export {ref[4:]}=...")
        elif is_generatable(loc):
            fixes.append(f"`assistant-cli doctor --fix` generates {ref[8:]}")
        else:
            fixes.append(f"assistant-cli secrets set {ref[8:]}")
    fixable = any(is_generatable(loc) and ref.startswith("keyring:") for loc, ref in missing)
    names = [".".join(loc) for loc, _ in missing]
    if all(is_generatable(loc) and ref.startswith("keyring:") for loc, ref in missing):
        # serve generates these on first start too, so nothing is broken yet.
        return warn(f"not generated yet: {'; '.join(shown)} (serve creates it on first start)",
                    "; ".join(fixes), fixable=True, missing=names)
    return fail(f"missing: {'; '.join(shown)}", "; ".join(fixes), fixable=fixable,
                missing=names)


async def generate_missing(ctx: DoctorContext) -> list[str]:
    """--fix: create secrets we choose ourselves (the gateway's JWT secret) when missing."""
    config = ctx.load_config()
    store = ctx.store()

    def work() -> list[str]:
        changes = []
        for loc, ref in references(config, used_only=True):
            if is_generatable(loc) and ref.startswith("keyring:") and not store.get(ref[8:]):
                store.set(ref[8:], new_secret())
                record(store, "secret.generate", ref[8:], "ok", via="doctor --fix")
                changes.append(f"generated {'.'.join(loc)} and stored it as {ref}")
        return changes

    return await in_thread(work)


async def check_rotation(ctx: DoctorContext) -> Result:
    try:
        period = ctx.load_config().secrets.rotation_days
    except ConfigError:
        period = 90

    def read() -> list[tuple[str, float]] | None:
        if pg_checks.postgres_target(ctx) is not None:  # secrets_meta is in PostgreSQL
            db = state_checks.open_existing(ctx)
            try:
                return [(r[0], float(r[1])) for r in db.execute(
                    "SELECT name, rotated_at FROM secrets_meta ORDER BY name").fetchall()]
            finally:
                db.close()
        conn = connect_existing(ctx.paths.database)
        if conn is None:
            return None
        try:
            return [(r[0], float(r[1])) for r in conn.execute(
                "SELECT name, rotated_at FROM secrets_meta ORDER BY name")]
        finally:
            conn.close()

    rows = await in_thread(read)
    # A `_previous` entry is a rotated-out key kept for its grace period, not a credential.
    rows = [(n, ts) for n, ts in rows or []
            if n not in INTERNAL_SECRETS and not n.endswith("_previous")]
    if not rows:
        return ok("no secrets stored through assistant-cli yet (env: references are not "
                  "tracked)")
    now = time.time()
    due, parts = [], []
    for name, rotated in rows:
        age = (now - rotated) / 86400
        parts.append(f"{name} {age:.0f} d (rotated {_date(rotated)})")
        if age >= period:
            due.append(name)
    ages = {n: round((now - ts) / 86400, 1) for n, ts in rows}
    if due:
        return warn(f"older than {period} days: {', '.join(due)}; all: {', '.join(parts)}",
                    "; ".join(rotate_command(n) for n in due),
                    due=due, age_days=ages)
    return ok(f"none older than {period} days: {', '.join(parts)}", age_days=ages)


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))
