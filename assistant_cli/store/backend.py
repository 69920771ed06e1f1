"""Which database holds the state: the SQLite file (default) or PostgreSQL (`state.url`).

`open_database()` is the one place that decides; `serve`, the CLI and `doctor` call it and
do not know which backend they got. Both backends offer the `Database` interface
(store/db.py): `transaction()`, `write()`, `execute()`, `health`, `storage_problem()`,
`schema_version`, `close()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_cli.errors import StateError
from assistant_cli.store.db import Database

if TYPE_CHECKING:
    from assistant_cli.config.models import StateConfig
    from assistant_cli.paths import Paths


def is_postgres(state: StateConfig | None) -> bool:
    """True when the config points the state at a PostgreSQL server."""
    return state is not None and state.url is not None


def open_database(paths: Paths, state: StateConfig | None = None) -> Database:
    """The state database this config names, migrated to the latest schema."""
    if not is_postgres(state):
        return Database(paths.database)
    raise StateError("the PostgreSQL state backend is not available in this build",
                     hint="remove state.url from config.yaml to use the SQLite file")
