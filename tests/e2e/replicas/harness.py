"""Several `assistant-cli serve` replicas on one PostgreSQL database, one home, one config.

Each replica gets its own gateway port and name on the command line (as systemd instances
of docs/deploy/assistant-cli@.service do); the config's `state.url` is the shared database.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg as pg

from tests.doctor_support import free_port
from tests.e2e.telegram_harness import Serve, Starter

LEASE = 3  # seconds: a killed replica's claims are queued again this soon


def state_yaml(url: str, *, lease: float = LEASE) -> str:
    return f"state:\n  url: \"{url}\"\n  lease: {lease}\n  pool_size: 4\n"


def webhook_yaml(hook: str = "https://bot.example/webhooks/telegram") -> str:
    return (f"    mode: webhook\n    webhook_url: {hook}\n"
            "    webhook_secret: env:TG_HOOK\n")


def start_replica(start: Starter, name: str, *role: str) -> tuple[Serve, str]:
    """A replica on its own port; (process, its webhook URL)."""
    port = free_port()
    proc = Serve(start.home, start.env, ("--port", str(port), "--replica", name, *role))
    start.started.append(proc)
    proc.wait_ready()
    return proc, f"http://127.0.0.1:{port}/webhooks/telegram"


def sends_per_text(calls: list[dict[str, Any]]) -> Counter[str]:
    """How many times each text went out by sendMessage."""
    return Counter(str(c.get("text", "")) for c in calls)


def inbox_status(url: str) -> Counter[str]:
    with pg.connect(url, autocommit=True) as conn:
        return Counter({str(s): int(n) for s, n in conn.execute(
            "SELECT status, count(*) FROM inbox GROUP BY status").fetchall()})


def poll_leader(url: str) -> str | None:
    """The replica holding an advisory lock (the Telegram poller), by its application_name."""
    with pg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            " AND a.application_name LIKE 'assistant-cli %'").fetchone()
    return None if row is None else str(row[0]).removeprefix("assistant-cli ")
