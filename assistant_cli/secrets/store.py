"""Secrets: values in the OS keyring, their names and dates in the state database.

Config values that are secrets are references: `keyring:NAME` reads NAME from the keyring
(service `assistant-cli`), `env:NAME` reads an environment variable. The keyring cannot list
its entries, so `secrets_meta` records which names we set and when (for rotation checks).
Every resolved value is registered with the log redactor.

The log redactor (observability.logs, with logging.handlers) is imported inside functions:
commands that list or set secrets never resolve one.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any

from assistant_cli.errors import SecretError
from assistant_cli.paths import Paths
from assistant_cli.secrets.keyring_backend import SERVICE, backend_name, select_backend
from assistant_cli.store.db import Database

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SecretInfo:
    """What we know about a stored secret, never its value."""

    name: str
    backend: str
    created_at: float
    rotated_at: float

    def age_days(self, now: float | None = None) -> float:
        return ((now or time.time()) - self.rotated_at) / 86400


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise SecretError(
            f"invalid secret name {name!r}",
            hint="use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return name


class SecretStore:
    """Reads and writes secrets; the keyring backend is chosen on first use."""

    def __init__(self, paths: Paths, db: Database | None = None) -> None:
        self.paths = paths
        self._db = db
        self._backend: Any = None

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = select_backend(self.paths.secrets_file)
        return self._backend

    @property
    def backend_name(self) -> str:
        return backend_name(self.backend)

    @property
    def db(self) -> Database:
        if self._db is None:
            from assistant_cli.store.backend import open_state

            self._db = open_state(self.paths)  # the SQLite file, or state.url's database
        return self._db

    def get(self, name: str) -> str | None:
        try:
            value: str | None = self.backend.get_password(SERVICE, check_name(name))
        except SecretError:
            raise
        except Exception as exc:  # keyring backends raise many types
            raise SecretError(f"cannot read secret {name!r} from the keyring: {exc}") from None
        return value

    def set(self, name: str, value: str) -> None:
        """Store a value; records when it was first set and when last changed."""
        if not value:
            raise SecretError(f"refusing to store an empty value for {name!r}")
        db = self.db  # an unusable state directory fails here, before the keyring changes
        try:
            self.backend.set_password(SERVICE, check_name(name), value)
        except SecretError:
            raise
        except Exception as exc:
            raise SecretError(f"cannot write secret {name!r} to the keyring: {exc}") from None
        now = time.time()
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO secrets_meta (name, backend, created_at, rotated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " backend = excluded.backend, rotated_at = excluded.rotated_at",
                (name, self.backend_name, now, now),
            )

    def delete(self, name: str) -> bool:
        """Remove a secret; False when it did not exist."""
        existed = True
        db = self.db  # as in set(): fail before the keyring changes
        try:
            self.backend.delete_password(SERVICE, check_name(name))
        except SecretError:
            raise
        except Exception:
            existed = False
        with db.transaction() as conn:
            gone = conn.execute("DELETE FROM secrets_meta WHERE name = ?", (name,)).rowcount
        return existed or bool(gone)

    def list(self) -> list[SecretInfo]:
        rows = self.db.execute(
            "SELECT name, backend, created_at, rotated_at FROM secrets_meta ORDER BY name"
        ).fetchall()
        return [SecretInfo(r[0], r[1], r[2], r[3]) for r in rows]

    def resolve(self, ref: str, *, key: str) -> str:
        """Turn a config value into the secret it names; `key` is the config path for errors."""
        if ref.startswith("env:"):
            var = ref[4:]
            value = os.environ.get(var)
            if not value:
                raise SecretError(
                    f"{key}: environment variable {var} is not set",
                    hint=f"export {var}=... before starting, or store it with "
                    f"`assistant-cli secrets set NAME` and write keyring:NAME",
                )
        elif ref.startswith("keyring:"):
            name = ref[8:]
            found = self.get(name)
            if not found:
                raise SecretError(
                    f"{key}: secret {name!r} is not in the keyring ({self.backend_name})",
                    hint=f"run `assistant-cli secrets set {name}`",
                )
            value = found
        else:
            value = ref  # a literal; the config loader already warned about it
        from assistant_cli.observability.logs import register_secret

        register_secret(value)
        return value
