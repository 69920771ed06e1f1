"""Namespaced key-value data in the state database's `kv` table: plugins' own data and
each sender's chosen language (no schema change: keys carry their namespace)."""

from __future__ import annotations

from assistant_cli.store.db import Database


class NamespacedKV:
    """The keys of one namespace (`plugin:<name>:`, `lang:` ...), texts in and out."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.prefix = namespace + ":"

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (self.prefix + key,)).fetchone()
        return str(row[0]) if row is not None else default

    def set(self, key: str, value: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", (self.prefix + key, str(value)))

    def delete(self, key: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM kv WHERE key = ?", (self.prefix + key,)).rowcount > 0

    def keys(self, prefix: str = "") -> list[str]:
        # LIKE would treat % and _ in plugin keys as wildcards; a range scan does not.
        low = self.prefix + prefix
        rows = self.db.execute("SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                               (low, low + "\U0010ffff")).fetchall()
        return [str(r[0])[len(self.prefix):] for r in rows]


def plugin_store(db: Database, plugin: str) -> NamespacedKV:
    """The key-value store a plugin's context hands it."""
    return NamespacedKV(db, f"plugin:{plugin}")


def language_store(db: Database) -> NamespacedKV:
    """Languages per sender (`<platform>:<sender>`): the /lang choice and the last seen hint."""
    return NamespacedKV(db, "lang")
