"""Inbox claim benchmark: the cost of the retry schedule's conditions on `Inbox.claim()`.

The claim now also checks `not_before` and that the row is the first queued one of its
conversation, and migration 5 adds the index `inbox_queue (status, id)` so that it walks
queued rows in id order and stops at the first match instead of sorting them all. This
times each claim (then finishes the row) over a backlog (`--queued` rows in `--chats`
conversations, beside `--done` finished rows): "before" is the query and indexes as they
were before the retry schedule, "after" is `Inbox.claim()` today; interleaved in one run,
compare the ratio.

    python benchmarks/inbox_claim.py [--queued 2000] [--chats 200] [--done 50000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox

OLD_CLAIM = ("SELECT * FROM inbox AS q WHERE q.status = 'queued' AND NOT EXISTS ("
             " SELECT 1 FROM inbox AS c WHERE c.status = 'claimed'"
             " AND c.conversation = q.conversation) ORDER BY q.id LIMIT 1")


def fill(inbox: Inbox, queued: int, chats: int, done: int) -> None:
    db = inbox.db
    with db.transaction(durable=False) as conn:
        conn.executemany(
            "INSERT INTO inbox (platform, external_id, conversation, chat_id, sender_id,"
            " received_at, status) VALUES ('telegram', ?, ?, ?, 'u', 0, 'done')",
            [(f"d{i}", f"telegram:{i % chats}", str(i % chats)) for i in range(done)])
    for i in range(queued):
        inbox.add(InboundMessage(platform="telegram", external_id=f"q{i}",
                                 chat_id=str(i % chats), sender_id="u", text="hi"))


def old_claim(inbox: Inbox) -> int | None:
    with inbox.db.transaction(durable=False) as conn:
        row = conn.execute(OLD_CLAIM).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE inbox SET status = 'claimed', attempts = attempts + 1,"
                     " claimed_at = ? WHERE id = ?", (time.time(), row["id"]))
        return int(row["id"])


def new_claim(inbox: Inbox) -> int | None:
    item = inbox.claim()
    return None if item is None else item.id


def run(claim: str, args: argparse.Namespace) -> list[float]:
    """Microseconds per claim (the finish after it is not timed), over the whole backlog."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "state.db")
        if claim == "before":
            db.execute("DROP INDEX inbox_queue")
        inbox = Inbox(db)
        fill(inbox, args.queued, args.chats, args.done)
        take = new_claim if claim == "after" else old_claim
        times = []
        while True:
            started = time.perf_counter()
            row = take(inbox)
            if row is None:
                break
            times.append((time.perf_counter() - started) * 1e6)
            inbox.finish(row, "answered")
        db.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--done", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {}
    for claim in ("before", "after", "before", "after"):  # interleaved: the machine is shared
        times = run(claim, args)
        entry = report.setdefault(claim, [])
        entry.append({"median_us": statistics.median(times),
                      "p99_us": statistics.quantiles(times, n=100)[98], "claims": len(times)})
    if args.json:
        print(json.dumps(report))
        return
    for claim, runs in report.items():
        for r in runs:
            print(f"{claim}: claim median {r['median_us']:.0f} µs, p99 {r['p99_us']:.0f} µs "
                  f"over {r['claims']} claims")


if __name__ == "__main__":
    main()
