"""The durable inbox on PostgreSQL, shared by several `serve` replicas.

Same life of a row as store/inbox.py (queued → claimed → done/failed, a recorded reply is
resent, never regenerated), plus what replicas need:

- claims take `FOR UPDATE SKIP LOCKED`, so replicas never wait for each other's rows, and
  only the oldest queued message of a conversation is a candidate, so a conversation never
  has two messages in flight, whichever replicas ask;
- a claim is a lease: the row carries the replica's id and a heartbeat (`heartbeat()`,
  every few seconds); a row whose replica stopped heart-beating for `lease` seconds is
  queued again by a claim on any replica (each looks every second, or half a lease).
  Times come from the database's clock, so replicas need not agree on theirs. The
  heartbeat renews only the rows this process is still working on (`held`): a row a
  worker let go of because the database failed under it is left to expire and be claimed
  again, never kept alive by a heartbeat forever;
- the database going away raises `DatabaseUnavailable` (a StateError naming the URL, the
  password masked) and `storage_problem()` says so until an operation succeeds again:
  intake answers 503 and acknowledges nothing, workers pause and claim again later;
- an add sends `NOTIFY assistant_inbox` with its commit, so the workers of every replica
  wake at once (store/pg_events.py listens), not at their next poll.

psycopg.rows is imported inside functions: psycopg is the optional `postgres` extra, and
this module is imported (for its types) by installs that do not have it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from assistant_cli.domain.messages import DeliveryFailure, InboundMessage, InboxItem
from assistant_cli.errors import StateError
from assistant_cli.store.inbox import Exchange, InboxCounts, dump_meta, row_message
from assistant_cli.store.retry import Decision, RetryPolicy

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from assistant_cli.store.inbox import Inbox, InboxStore

log = logging.getLogger("assistant_cli.store.pg")

NOW = "extract(epoch from clock_timestamp())"
INBOX_CHANNEL = "assistant_inbox"  # NOTIFY on every add: other replicas' workers wake


class DatabaseUnavailable(StateError):
    """The PostgreSQL server cannot be reached (or dropped the connection) right now."""

_CLAIM = """
SELECT q.* FROM inbox AS q
WHERE q.status = 'queued' AND q.not_before <= %(now)s
  AND (%(all)s OR q.platform = ANY(%(platforms)s))
  AND NOT EXISTS (SELECT 1 FROM inbox AS c
                  WHERE c.conversation = q.conversation AND c.status = 'claimed')
  AND NOT EXISTS (SELECT 1 FROM inbox AS o
                  WHERE o.conversation = q.conversation AND o.status = 'queued' AND o.id < q.id)
ORDER BY q.id LIMIT 1
FOR UPDATE OF q SKIP LOCKED
"""
_EXPIRED = f"""
UPDATE inbox SET status = 'queued', claimed_by = NULL
WHERE status = 'claimed' AND heartbeat_at < {NOW} - %s
"""


class PgInbox:
    """Inbound messages stored before they are acknowledged, claimed with leases."""

    def __init__(self, pool: AsyncConnectionPool, *, replica: str,
                 policy: RetryPolicy | None = None, lease: float = 30.0,
                 clock: Callable[[], float] = time.time, name: str = "PostgreSQL") -> None:
        self.pool = pool
        self.replica = replica
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.clock = clock  # not_before times are this process's clock, as in store/inbox.py
        self.name = name  # the masked URL, for messages
        self.held: set[int] = set()  # rows claimed by this process and still worked on
        self.problem: str | None = None  # why the database is unavailable, None while fine
        self._pending: dict[str, int] = {}  # queued + claimed per platform, see depth()
        self._failed = 0
        self._claiming = asyncio.Lock()
        self._maybe_work = True
        self._empty_at = 0.0  # clock() time of the last claim that found nothing
        self._expired_at = 0.0  # ... and of the last requeue of expired leases

    def storage_problem(self) -> str | None:
        """Why the state cannot be written now (readiness), None while it can."""
        return self.problem

    @contextlib.asynccontextmanager
    async def _connection(self, *, transaction: bool = False) -> AsyncIterator[
            AsyncConnection[Any]]:
        """A pooled connection; a lost server becomes DatabaseUnavailable (reported once
        per outage, and once when it works again)."""
        import psycopg

        try:
            async with self.pool.connection() as conn:
                if transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if self.problem is None:
                log.warning("the database %s is unavailable: %s", self.name, reason,
                            extra={"event": "state.unavailable"})
            self.problem = f"database unavailable: {reason}"
            raise DatabaseUnavailable(f"the database {self.name} is unavailable: {reason}",
                                      hint="check that the PostgreSQL server runs") from None
        if self.problem is not None:
            self.problem = None
            log.warning("the database %s works again", self.name,
                        extra={"event": "state.recovered"})

    async def add(self, msg: InboundMessage) -> int | None:
        """Store a message; returns its row id, or None when it was already stored."""
        return (await self.add_many([msg]))[0]

    async def add_many(self, msgs: Sequence[InboundMessage]) -> list[int | None]:
        """Store messages in one transaction; each one's row id, None for a duplicate.

        Inserted in the order given, which is the conversations' order. A replica handed the
        same redelivery waits for the first one's commit, then finds the rows there.
        """
        ids: list[int | None] = [None] * len(msgs)
        async with self._connection(transaction=True) as conn:
            for i, msg in enumerate(msgs):
                cur = await conn.execute(
                    "INSERT INTO inbox (platform, external_id, conversation, chat_id,"
                    " sender_id, sender_name, kind, text, meta, received_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (platform, external_id) DO NOTHING RETURNING id",
                    (msg.platform, msg.external_id, msg.conversation, msg.chat_id,
                     msg.sender_id, msg.sender_name, msg.kind, msg.text, dump_meta(msg),
                     msg.received_at))
                row = await cur.fetchone()
                ids[i] = int(row[0]) if row else None
            if any(i is not None for i in ids):  # sent at commit: wakes the other replicas
                await conn.execute(f"NOTIFY {INBOX_CHANNEL}")
        self.hint()
        return ids

    def hint(self) -> None:
        """Something may have become claimable (a row added here or, by NOTIFY, on another
        replica; a conversation's turn ended): the next claim asks the database."""
        self._maybe_work = True

    async def claim(self, platforms: Collection[str] | None = None) -> InboxItem | None:
        """Claim the oldest queued message whose conversation has nothing in flight.

        Claims of one process take turns, and after one found nothing the others return
        None at once until hint() or a second has passed: N idle workers woken together
        cost one round trip, not N."""
        async with self._claiming:
            now = self.clock()  # the clock not_before times are in
            if not self._maybe_work and now - self._empty_at < 1.0:
                return None
            self._maybe_work = False  # set again by hints that arrive meanwhile
            expire = time.monotonic() - self._expired_at >= min(1.0, self.lease / 2)
            item = await self._claim(platforms, expire=expire)
            if item is None:
                self._empty_at = now
            else:
                self._maybe_work = True  # there may be more
            return item

    async def _claim(self, platforms: Collection[str] | None, *,
                     expire: bool) -> InboxItem | None:
        from psycopg.rows import dict_row

        params = {"all": platforms is None, "platforms": list(platforms or ()),
                  "now": self.clock()}
        async with self._connection(transaction=True) as conn:
            if expire:  # leases of dead replicas, looked at once a second at most
                await conn.execute(_EXPIRED, (self.lease,))
                self._expired_at = time.monotonic()
            cur = conn.cursor(row_factory=dict_row)
            row = await (await cur.execute(_CLAIM, params)).fetchone()
            if row is None:
                return None
            await conn.execute(
                f"UPDATE inbox SET status = 'claimed', attempts = attempts + 1,"
                f" claimed_at = {NOW}, heartbeat_at = {NOW}, claimed_by = %s WHERE id = %s",
                (self.replica, row["id"]))
            reply = await (await cur.execute(
                "SELECT text, state FROM replies WHERE inbox_id = %s", (row["id"],))).fetchone()
        self.held.add(int(row["id"]))
        return InboxItem(id=int(row["id"]), message=row_message(row), attempts=row["attempts"] + 1,
                         reply_text=reply["text"] if reply else None,
                         reply_sent=bool(reply and reply["state"] == "sent"))

    async def heartbeat(self) -> int:
        """Renew the lease of every row this replica has claimed (and recount depth());
        returns how many rows it holds."""
        async with self._connection() as conn:
            cur = await conn.execute(
                f"UPDATE inbox SET heartbeat_at = {NOW}"
                " WHERE status = 'claimed' AND claimed_by = %s AND id = ANY(%s)",
                (self.replica, sorted(self.held)))
            held = cur.rowcount
        await self.count_pending()
        return held

    async def record_reply(self, inbox_id: int, text: str) -> None:
        """Remember a generated reply before sending it, so a restart resends, not regenerates."""
        async with self._connection() as conn:
            await conn.execute(
                f"INSERT INTO replies (inbox_id, text, state, created_at)"
                f" VALUES (%s, %s, 'generated', {NOW})"
                " ON CONFLICT (inbox_id) DO UPDATE SET text = excluded.text",
                (inbox_id, text))

    async def finish(self, inbox_id: int, outcome: str, *, sent: bool = False,
                     exchange: Exchange | None = None) -> None:
        """Mark a message done (its reply sent, the exchange in history) in one transaction."""
        self.held.discard(inbox_id)  # whatever happens now, this process is done with it
        self.hint()  # the conversation's next message may be claimable now
        async with self._connection(transaction=True) as conn:
            if exchange is not None:
                await _append_exchange(conn, exchange, inbox_id)
            if sent:
                await conn.execute(f"UPDATE replies SET state = 'sent', sent_at = {NOW}"
                                   " WHERE inbox_id = %s", (inbox_id,))
            await conn.execute(
                f"UPDATE inbox SET status = 'done', outcome = %s, finished_at = {NOW},"
                " error = NULL WHERE id = %s", (outcome, inbox_id))

    async def release(self, inbox_id: int, error: str,
                      failure: DeliveryFailure | None = None) -> Decision:
        """Give a claimed message back after a failed try: queued again not before the time
        the retry policy sets, or failed when it gives up (as store/inbox.py does)."""
        now = self.clock()
        self.held.discard(inbox_id)
        self.hint()  # the conversation's next message may be claimable now
        async with self._connection(transaction=True) as conn:
            cur = await conn.execute("SELECT attempts, first_failed_at FROM inbox"
                                     " WHERE id = %s FOR UPDATE", (inbox_id,))
            row = await cur.fetchone()
            if row is None:
                return Decision(False, reason="missing")
            first = row[1] if row[1] is not None else now
            decision = self.policy.decide(failure, attempts=row[0], first_failed_at=first,
                                          now=now)
            if decision.retry:
                await conn.execute(
                    "UPDATE inbox SET status = 'queued', error = %s, claimed_by = NULL,"
                    " not_before = %s, first_failed_at = %s WHERE id = %s",
                    (error[:500], decision.not_before, first, inbox_id))
            else:
                notice = None if decision.reason == "permanent" else "pending"
                await conn.execute(
                    "UPDATE inbox SET status = 'failed', error = %s, outcome = %s,"
                    " claimed_by = NULL, finished_at = %s, first_failed_at = %s, notice = %s"
                    " WHERE id = %s",
                    (error[:500], decision.reason, now, first, notice, inbox_id))
        return decision

    async def put_back(self, inbox_id: int) -> None:
        """Queue a claimed message again at once, uncounted (its turn was interrupted)."""
        self.held.discard(inbox_id)
        self.hint()  # the conversation's next message may be claimable now
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE inbox SET status = 'queued', claimed_by = NULL,"
                " attempts = GREATEST(attempts - 1, 0) WHERE id = %s AND status = 'claimed'",
                (inbox_id,))

    async def recover(self) -> int:
        """Queue again what this replica claimed in an earlier life; returns how many."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "UPDATE inbox SET status = 'queued', claimed_by = NULL"
                " WHERE status = 'claimed' AND claimed_by = %s", (self.replica,))
            return cur.rowcount

    def depth(self, platforms: Collection[str] | None = None) -> int:
        """Messages queued or in flight (of `platforms` only, when given), as counted by the
        last `heartbeat()` or `count_pending()`: readiness and metrics read it without a
        round trip to the server."""
        wanted = self._pending if platforms is None else {
            p: n for p, n in self._pending.items() if p in platforms}
        return sum(wanted.values())

    async def count_pending(self) -> int:
        """Count queued and claimed messages per platform now (see depth()), and the
        given-up ones (failed_count())."""
        async with self._connection() as conn:
            cur = await conn.execute("SELECT platform, status = 'failed', count(*) FROM inbox"
                                     " WHERE status IN ('queued', 'claimed', 'failed')"
                                     " GROUP BY platform, status = 'failed'")
            rows = await cur.fetchall()
        self._pending = {}
        self._failed = 0
        for platform, failed, count in rows:
            if failed:
                self._failed += int(count)
            else:
                self._pending[str(platform)] = self._pending.get(str(platform), 0) + int(count)
        return sum(self._pending.values())

    def failed_count(self) -> int:
        """Given-up messages, as counted by the last heartbeat() (no round trip)."""
        return self._failed

    async def counts(self) -> InboxCounts:
        async with self._connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM inbox GROUP BY status")
            rows: dict[str, int] = {r[0]: r[1] for r in await cur.fetchall()}
        return InboxCounts(*(int(rows.get(s, 0)) for s in ("queued", "claimed", "done", "failed")))


async def _append_exchange(conn: AsyncConnection[Any], exchange: Exchange,
                           inbox_id: int) -> None:
    session, user, assistant = exchange
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO history (session, role, content, inbox_id, created_at)"
            f" VALUES (%s, %s, %s, %s, {NOW})",
            [(session, "user", user, inbox_id), (session, "assistant", assistant, inbox_id)])


if TYPE_CHECKING:
    def _is_an_inbox_store(inbox: PgInbox, sqlite: Inbox) -> tuple[InboxStore, InboxStore]:
        return inbox, sqlite  # mypy: both backends give the engine what it asks for
