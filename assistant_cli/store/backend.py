"""Which database holds the state: the SQLite file (default) or PostgreSQL (`state.url`).

`open_database()` is the one place that decides; `serve`, the CLI and `doctor` call it and
do not know which backend they got. Both backends offer the `Database` interface
(store/db.py): `transaction()`, `write()`, `execute()`, `health`, `storage_problem()`,
`schema_version`, `close()`; store/pg_db.py is the PostgreSQL one.

The PostgreSQL password comes from `state.password` (`keyring:NAME` or `env:NAME`), read
from the keyring or the environment directly: the secret store keeps its metadata in the
state database, which is the one being opened.

The PostgreSQL side, the config loader and the keyring are imported inside functions: the
SQLite default never loads the optional driver, and opening the state stays quick.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant_cli.errors import ConfigError, SecretError
from assistant_cli.store.db import Database

if TYPE_CHECKING:
    from assistant_cli.config.models import StateConfig
    from assistant_cli.paths import Paths


def is_postgres(state: StateConfig | None) -> bool:
    """True when the config points the state at a PostgreSQL server."""
    return state is not None and state.url is not None


def open_database(paths: Paths, state: StateConfig | None = None) -> Database:
    """The state database this config names, migrated to the latest schema."""
    if state is None or state.url is None:
        return Database(paths.database)
    from assistant_cli.store.pg_db import PgDatabase

    return PgDatabase(state.url, password=state_password(paths, state.password),
                      pool_size=state.pool_size, state_dir=paths.database.parent)


def state_section(paths: Paths) -> StateConfig | None:
    """The `state:` section of config.yaml (None without a config file or the section).

    Only this section is validated (errors as `file:line: state.url: ...`), so a command
    that opens the state is not held up by a problem elsewhere in the file.
    """
    from assistant_cli.config.loader import read_document, validate_section
    from assistant_cli.config.models import StateConfig

    path = paths.config_file
    if not path.exists():
        return None
    doc = read_document(path)
    data = doc.data.get("state") if isinstance(doc.data, dict) else None
    if data is None:
        _no_misspelt_state(doc.data, doc.line_of, path.name)
        return None
    section = validate_section(StateConfig, data, ("state",), doc, path.name)
    assert isinstance(section, StateConfig)
    return section


def _no_misspelt_state(data: object, line_of: Callable[[tuple[str]], int | None],
                       filename: str) -> None:
    """A top-level key that looks like `state` (`stat:`, `States:`) would silently leave the
    state on the SQLite file: refuse it, as `config validate` would."""
    for key in data if isinstance(data, dict) else ():
        if key != "state" and difflib.get_close_matches(str(key).lower(), ["state"], cutoff=0.75):
            raise ConfigError(f"{filename}:{line_of((key,))}: {key}: not a setting; "
                              "did you mean 'state'?",
                              hint="edit the file, then run `assistant-cli config validate`")


def open_state(paths: Paths) -> Database:
    """The state database the config file at `paths` names (the SQLite file by default):
    for commands and modules that have paths but no loaded config."""
    return open_database(paths, state_section(paths))


def state_password(paths: Paths, ref: str | None, *, key: str = "state.password") -> str | None:
    """The database password a `keyring:`/`env:` reference names (None: no reference)."""
    if ref is None:
        return None
    if ref.startswith("env:"):
        value = os.environ.get(ref[4:])
        if not value:
            raise SecretError(f"{key}: environment variable {ref[4:]} is not set",
                             hint=f"export {ref[4:]}=... before starting")
        return value
    if ref.startswith("keyring:"):
        from assistant_cli.secrets.keyring_backend import SERVICE, select_backend

        name = ref[8:]
        try:
            value = select_backend(paths.secrets_file).get_password(SERVICE, name)
        except SecretError:
            raise
        except Exception as exc:  # keyring backends raise many types
            raise SecretError(f"{key}: cannot read {name!r} from the keyring: {exc}") from None
        if not value:
            raise SecretError(f"{key}: secret {name!r} is not in the keyring",
                              hint=f"run `assistant-cli secrets set {name}`")
        return str(value)
    raise ConfigError(f"{key}: not a keyring:NAME or env:NAME reference",
                      hint="write keyring:NAME or env:NAME; never the password itself")
