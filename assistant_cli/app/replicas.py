"""`serve` as one of several replicas on a shared PostgreSQL state (docs/replicas.md).

What a replica adds to a single `serve`: a name (`state.replica`, `--replica`, or
host-pid), a role (`--role all|intake|worker`), the inbox with leases (store/pg_inbox.py)
and its heartbeat, the Telegram polling leader (store/pg_leader.py), and the relay of
dashboard events between replicas (store/pg_events.py). With the SQLite file none of this
exists and a role other than `all` is refused.

psycopg_pool is imported inside functions: it is the optional `postgres` extra. So are
the PostgreSQL stores (store/pg*.py): a serve on the SQLite file imports this module for
`check_role` and `replica_name` and would carry code it never runs (~0.3 MB RSS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant_cli.channels import confirm
from assistant_cli.domain.events import (
    MessageError,
    MessageFailed,
    MessageIn,
    MessageOut,
    PairingApproved,
    PairingRequested,
    ProviderCallFailed,
    TurnFailed,
)
from assistant_cli.errors import StateError, UsageError
from assistant_cli.gateway.protocol import REPLICA_METRICS, encode_event
from assistant_cli.store.retry import RetryPolicy

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from assistant_cli.config.models import Config, StateConfig
    from assistant_cli.domain.events import Consumer, Event, EventBus
    from assistant_cli.gateway.auth import Lockout
    from assistant_cli.gateway.control import ControlPlane
    from assistant_cli.store.db import Database
    from assistant_cli.store.pg_events import PgEvents
    from assistant_cli.store.pg_inbox import PgInbox
    from assistant_cli.store.pg_leader import PgLeader
    from assistant_cli.store.pg_open import DatabaseUnreachable

log = logging.getLogger("assistant_cli.app.replicas")

ROLES = ("all", "intake", "worker")
RELAYED = (MessageIn, MessageOut, MessageError, MessageFailed, TurnFailed, PairingRequested,
           PairingApproved, ProviderCallFailed)
POOL_WAIT = 2.0
METRICS_EVERY = 2.0  # seconds between a replica's `replica.metrics` events
SNAPSHOT_FIELDS = ("messages_total", "received_total", "messages_per_min", "latency_p99_ms",
                   "cpu_percent", "uptime_s")
AUTH_FAILURE = "auth.failure"  # between replicas only, never to dashboard clients
BUTTON_PRESS = "confirm.press"  # a tool-confirmation press for another replica's question


def check_role(role: str, *, postgres: bool, platforms: dict[str, Any]) -> None:
    """Refuse roles that cannot work: split roles need the shared PostgreSQL state, and the
    terminal's console cannot be split from its answers."""
    if role not in ROLES:
        raise UsageError(f"--role {role}: unknown role", hint="use all, intake or worker")
    if role == "all":
        return
    if not postgres:
        raise UsageError(f"--role {role} needs the shared PostgreSQL state (state.url): with "
                         "the SQLite file one `serve` receives and answers",
                         hint="set state.url (see docs/replicas.md), or leave --role out")
    if "console" in platforms:
        raise UsageError(f"--role {role} cannot run the console channel (it reads this "
                         "terminal)", hint="set platforms.console.enabled: false, or run "
                                           "this replica as a service")


def replica_name(state: StateConfig, override: str | None = None) -> str:
    """This process's name in leases, events and /metrics."""
    return override or state.replica or f"{socket.gethostname()}-{os.getpid()}"


def retry_policy(config: Config) -> RetryPolicy:
    delivery = config.delivery
    return RetryPolicy(give_up_after=delivery.give_up_after, initial=delivery.retry_initial,
                       maximum=delivery.retry_max, other_attempts=delivery.other_error_attempts)


def application_name(replica: str) -> str:
    """How this replica's connections show in pg_stat_activity (at most 63 bytes)."""
    return f"assistant-cli {replica}"[:63]


async def open_pool(url: str, password: str | None, size: int,
                    replica: str = "") -> AsyncConnectionPool:
    """The async pool for the inbox, schema in place; DatabaseUnreachable (exit 2, the URL
    shown with its password masked) when the server cannot be used."""
    from assistant_cli.store.pg import ensure_schema
    from assistant_cli.store.pg_open import DatabaseUnreachable

    try:
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        raise DatabaseUnreachable("state.url is a PostgreSQL database, but its driver is not "
                                  "installed", hint="pip install 'assistant-cli[postgres]'"
                                  ) from None
    kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": 5,
                              "application_name": application_name(replica)}
    if password is not None:
        kwargs["password"] = password
    await _check_reachable(url, kwargs)  # one try first: the pool would only time out
    # A connection is waited for POOL_WAIT seconds at most: with the server gone, a webhook
    # is answered 503 at once rather than when the platform's own timeout strikes.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # we report outages once
    pool = AsyncConnectionPool(url, min_size=1, max_size=size, open=False, kwargs=kwargs,
                               timeout=POOL_WAIT, check=AsyncConnectionPool.check_connection)
    try:
        await pool.open(wait=True, timeout=10.0)
        await ensure_schema(pool)
    except StateError:
        await pool.close()
        raise
    except Exception as exc:
        await pool.close()
        raise _unreachable(url, exc, password) from None
    return pool


async def _check_reachable(url: str, kwargs: dict[str, Any]) -> None:
    from psycopg import AsyncConnection

    try:
        conn = await AsyncConnection.connect(url, **kwargs)
    except Exception as exc:
        raise _unreachable(url, exc, kwargs.get("password")) from None
    await conn.close()


def _unreachable(url: str, exc: BaseException, password: str | None) -> DatabaseUnreachable:
    from assistant_cli.store.pg_open import DatabaseUnreachable
    from assistant_cli.store.pg_sql import mask_url

    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if password:
        reason = reason.replace(password, "***")
    return DatabaseUnreachable(
        f"cannot reach the PostgreSQL database {mask_url(url)}: {reason}",
        hint="check that the server runs, and state.url, its user and state.password; "
             "`assistant-cli doctor` checks the database")


@dataclass
class Replica:
    """The PostgreSQL parts of one replica's run."""

    name: str
    role: str
    url: str
    password: str | None
    pool: AsyncConnectionPool
    inbox: PgInbox
    events: PgEvents
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    relay: EventRelay | None = None

    @property
    def unavailable(self) -> bool:
        """True while the shared database is away (as the inbox last found it)."""
        return self.inbox.problem is not None

    @staticmethod
    def bound_waits(db: Database) -> None:
        """The synchronous stores read on the event loop: with the server gone, let each
        read wait POOL_WAIT seconds for a connection, not the pool's default 30 s that
        would stall intake (webhooks must get their 503 promptly)."""
        pool = getattr(db, "pool", None)
        if pool is not None and hasattr(pool, "timeout"):
            pool.timeout = POOL_WAIT

    def leadership(self, role: str) -> PgLeader:
        """A leader election for `role` (the Telegram poller asks for one)."""
        from assistant_cli.store.pg_leader import PgLeader

        return PgLeader(self.url, role, password=self.password, interval=2.0,
                        application_name=application_name(self.name))

    async def start(self, bus: EventBus, control: ControlPlane | None,
                    expose_text: bool, wake: Callable[[], None] = lambda: None) -> None:
        """Heartbeat, and the event relay (always sending; receiving for a dashboard);
        `wake` the workers when another replica stores a message."""
        self.tasks.append(asyncio.create_task(self._heartbeat(), name="inbox-heartbeat"))
        self.relay = EventRelay(self, bus, control, expose_text)
        self.relay.start()
        self.tasks.append(asyncio.create_task(self.events.send_loop(), name="replica-send"))
        def new_rows() -> None:
            self.inbox.hint()
            wake()

        self.tasks.append(asyncio.create_task(
            self.events.listen_loop(self.relay.received, new_rows), name="replica-listen"))
        self.tasks.append(asyncio.create_task(self.relay.metrics_loop(),
                                              name="replica-metrics"))

    async def _heartbeat(self) -> None:
        """Renew this replica's leases (a third of the lease), recount the queue."""
        every = max(0.2, self.inbox.lease / 3)
        while True:
            with contextlib.suppress(StateError):  # reported by the inbox; leases lapse
                await self.inbox.heartbeat()
            await asyncio.sleep(every)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.relay is not None:
            await self.relay.stop()
        await self.pool.close()


async def open_replica(config: Config, password: str | None, *, role: str,
                       name: str | None = None) -> Replica:
    """Connect this replica to the shared state (DatabaseUnreachable when it cannot)."""
    from assistant_cli.store.pg_events import PgEvents
    from assistant_cli.store.pg_inbox import PgInbox
    from assistant_cli.store.pg_sql import mask_url

    state = config.state
    assert state.url is not None
    replica = replica_name(state, name)
    pool = await open_pool(state.url, password, state.pool_size, replica)
    inbox = PgInbox(pool, replica=replica, policy=retry_policy(config), lease=state.lease,
                    name=mask_url(state.url))
    await inbox.count_pending()
    log.info("replica %s (%s) on %s", replica, role, mask_url(state.url),
             extra={"event": "replica.started", "fields": {"replica": replica, "role": role}})
    return Replica(replica, role, state.url, password, pool, inbox,
                   PgEvents(pool, state.url, password=password))


def share_lockout(lockout: Lockout, events: PgEvents, replica: str) -> None:
    """Tell every replica about each failed dashboard login here, so the lockout after
    `gateway.lockout_failures` holds across replicas (within one event batch, ~0.2 s)."""
    lockout.on_failure = lambda address: events.publish(
        {"r": replica, "e": AUTH_FAILURE, "ts": time.time(), "d": {"address": address}})


def remote_failure(lockout: Lockout, data: dict[str, Any]) -> None:
    """Count a failure another replica saw (it is not told onwards again)."""
    address = data.get("address")
    if isinstance(address, str) and address:
        lockout.failure(address, shared=False)


class EventRelay:
    """Local dashboard events out to the other replicas, theirs in to local clients."""

    def __init__(self, replica: Replica, bus: EventBus, control: ControlPlane | None,
                 expose_text: bool) -> None:
        self.replica = replica
        self.bus = bus
        self.control = control
        self.expose_text = expose_text
        self._consumer: Consumer | None = None
        if control is not None:
            control.hub.replica = replica.name
            control.metrics.registry.constant_labels = {"replica": replica.name}
            share_lockout(control.auth.lockout, replica.events, replica.name)

    def start(self) -> None:
        self._consumer = self.bus.consume(self.sent, name="replica-relay")
        confirm.set_forward(self.forward_press)

    def forward_press(self, data: str, sender_id: str) -> None:
        """A button press for a question this replica is not waiting on: to all replicas."""
        self.replica.events.publish({"r": self.replica.name, "e": BUTTON_PRESS,
                                     "ts": time.time(),
                                     "d": {"data": data, "sender": sender_id}})

    async def stop(self) -> None:
        confirm.set_forward(None)
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def sent(self, event: Event) -> None:
        if not isinstance(event, RELAYED):
            return
        data = encode_event(event, self.expose_text)
        if data is None:
            return
        self.replica.events.publish({"r": self.replica.name, "e": event.name, "ts": event.ts,
                                     "d": json.loads(data)})

    def received(self, item: dict[str, Any]) -> None:
        name, data, origin = item.get("e"), item.get("d"), item.get("r")
        if not isinstance(name, str) or not isinstance(data, dict):
            return
        if name == BUTTON_PRESS:
            if origin != self.replica.name:
                confirm.settle_forwarded(str(data.get("data", "")), str(data.get("sender", "")))
            return
        if self.control is None:
            return
        if name == AUTH_FAILURE:
            if origin != self.replica.name:
                remote_failure(self.control.auth.lockout, data)
            return
        if origin == self.replica.name and name != REPLICA_METRICS:
            return  # this replica's own events reached its clients directly
        ts = item.get("ts")
        self.control.hub.relay(name, ts if isinstance(ts, (int, float)) else time.time(),
                               {"replica": origin, **data})

    async def metrics_loop(self) -> None:
        """Every METRICS_EVERY seconds: this replica's role and metrics, for all dashboards."""
        while True:
            snapshot = self.control.metrics.snapshot() if self.control is not None else {}
            values = reading(self.replica.role, self.replica.inbox.depth(),
                             len(self.replica.inbox.held), snapshot)
            self.replica.events.publish({"r": self.replica.name, "e": REPLICA_METRICS,
                                         "ts": time.time(), "d": values})
            await asyncio.sleep(METRICS_EVERY)


def reading(role: str, queue_depth: int, held: int, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The data of a `replica.metrics` event (its `replica` is added by the receiver)."""
    return {"role": role, "queue_depth": queue_depth, "held": held,
            **{k: snapshot.get(k) for k in SNAPSHOT_FIELDS}}
