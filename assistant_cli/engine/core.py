"""The engine that `serve` runs: channels feed the inbox, workers answer from it.

Start: recover rows a dead process had claimed, start channels. Run: N workers claim
messages (one conversation at a time, different conversations concurrently). Stop: close
intake, give in-flight turns a grace period, then cancel them; a cancelled turn's row goes
back to the queue and is answered at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from assistant_cli.domain.events import MessageIn, MessageOut
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.delivery import Notifier, after_failure
from assistant_cli.engine.doorbell import Doorbell
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.errors import StateError

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.domain.events import EventBus
    from assistant_cli.store.inbox import InboxStore
    from assistant_cli.store.undelivered import Undelivered

log = logging.getLogger("assistant_cli.engine")

# Seconds between the claims that find what no ring announced: a row put back by another
# process (`inbox retry`), or a retry time set by an earlier run.
POLL_EVERY = 1.0


class Engine:
    """Owns the workers and the channels' lifecycle."""

    def __init__(
        self,
        inbox: InboxStore,
        runner: TurnRunner,
        channels: dict[str, Channel],
        events: EventBus,
        *,
        workers: int = 4,
        grace: float = 10.0,
        undelivered: Undelivered | None = None,
        notice_every: float = 30.0,
    ) -> None:
        self.inbox = inbox
        self.runner = runner
        self.channels = channels
        self.events = events
        self.workers = workers
        self.grace = grace
        self.started_at = time.time()
        self._bell = Doorbell(workers)
        self._poll: asyncio.TimerHandle | None = None
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.notifier = (None if undelivered is None else
                         Notifier(undelivered, channels, events, every=notice_every,
                                  language=_sender_language(runner)))
        self._notices: asyncio.Task[None] | None = None
        self._busy = 0
        self.intake_open = False

    # -- intake -----------------------------------------------------------------------
    async def submit(self, msg: InboundMessage) -> bool:
        """Store a message durably and wake a worker; False for a redelivered duplicate."""
        return (await self.submit_many([msg]))[0]

    async def submit_many(self, msgs: Sequence[InboundMessage]) -> list[bool]:
        """Store messages in one durable commit (a getUpdates batch, say) and wake workers.

        Returns, per message, False for a redelivered duplicate. Only after this returns may
        the platform be acknowledged; the commit itself runs off the event loop.
        """
        rows = await self.inbox.add_many(msgs) if msgs else []
        for msg, row in zip(msgs, rows, strict=True):
            if row is None:
                log.info("duplicate %s message %s ignored", msg.platform, msg.external_id,
                         extra={"event": "inbox.duplicate", "fields": {"channel": msg.platform}})
                continue
            self.events.publish(MessageIn(channel=msg.platform, sender=msg.sender_id,
                                          length=len(msg.text), id=row, text=msg.text))
        self._bell.ring(sum(row is not None for row in rows))
        return [row is not None for row in rows]

    def wake(self) -> None:
        """Workers claim now: a message may be waiting that this process did not store
        (another replica's, announced by the database)."""
        self._bell.ring()

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        recovered = await self.inbox.recover()
        if recovered:
            log.info("recovered %d unfinished message(s)", recovered,
                     extra={"event": "inbox.recovered", "fields": {"count": recovered}})
        for channel in self.channels.values():
            await channel.start(self)
        self.intake_open = True
        self._tasks = [asyncio.create_task(self._work(i), name=f"worker-{i}")
                       for i in range(self.workers)]
        if self.notifier is not None:
            self._notices = asyncio.create_task(self.notifier.run(), name="notices")
        self._bell.ring()  # rows left queued by an earlier run (the worker rings on)
        self._poll = asyncio.get_running_loop().call_later(POLL_EVERY, self._tick)

    async def stop(self) -> None:
        """Stop intake, let in-flight turns finish within the grace period, then cancel."""
        self.intake_open = False
        for name, channel in self.channels.items():
            try:
                await channel.stop()
            except Exception:  # logged, not raised: the other channels must stop too
                log.exception("channel %s did not stop cleanly", name,
                              extra={"event": "channel.stop_failed", "fields": {"channel": name}})
        self._stopping.set()
        if self._poll is not None:
            self._poll.cancel()
        self._bell.ring_all()
        if self._notices is not None:
            self._notices.cancel()
            await asyncio.gather(self._notices, return_exceptions=True)
        if self._tasks:
            all_done = asyncio.ensure_future(asyncio.wait(self._tasks))
            hurried = asyncio.ensure_future(self._hurry.wait())
            await asyncio.wait({all_done, hurried}, timeout=self.grace,
                               return_when=asyncio.FIRST_COMPLETED)
            all_done.cancel()
            hurried.cancel()
            pending = [task for task in self._tasks if not task.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.runner.router.aclose()

    def hurry(self) -> None:
        """End the grace period now (a second Ctrl-C): unfinished turns go back to the queue."""
        self._hurry.set()

    @property
    def in_flight(self) -> int:
        """How many messages are being answered right now."""
        return self._busy

    async def drain(self, timeout: float | None = None,
                    until: asyncio.Event | None = None) -> bool:
        """Wait until nothing this run can answer is queued or in flight (input ended).

        False when `timeout` passed, `until` was set or hurry() was called first. Messages
        of channels not running here are not waited for: no worker here would take them.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (self._hurry.is_set() or (until is not None and until.is_set())) and (
                deadline is None or time.monotonic() < deadline):
            if self._busy == 0 and self.inbox.depth(platforms=self.channels) == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    # -- workers ----------------------------------------------------------------------
    async def _work(self, index: int) -> None:
        while not self._stopping.is_set():
            try:
                item = await self.inbox.claim(platforms=self.channels)
            except (sqlite3.Error, StateError):
                # Storage trouble (a full disk, the PostgreSQL server gone): the store reports
                # it once and /readyz says so; the worker pauses and claims again once the
                # database works.
                await asyncio.sleep(1.0)
                continue
            if item is None:
                await self._bell.wait()
                continue
            self._bell.ring()  # more may be queued: the next idle worker looks
            channel = self.channels[item.message.platform]  # claim() took only these
            self._busy += 1
            try:
                outcome = await self.runner.run(item, channel)
                self.events.publish(MessageOut(
                    channel=item.message.platform, sender=item.message.sender_id,
                    outcome=outcome.name, latency_ms=outcome.latency_ms,
                    overhead_ms=outcome.overhead_ms, id=item.id, length=len(outcome.reply),
                    text=outcome.reply))
                log.info("%s message %d: %s in %.0f ms", item.message.platform, item.id,
                         outcome.name, outcome.latency_ms, extra={
                             "event": "message.done", "fields": {
                                 "channel": item.message.platform, "outcome": outcome.name,
                                 "latency_ms": outcome.latency_ms,
                                 "overhead_ms": outcome.overhead_ms}})
                if self.notifier is not None:
                    self.notifier.channel_works()
            except asyncio.CancelledError:
                await asyncio.shield(self._put_back(item.id))
                raise
            except Exception as exc:
                # The row waits for its retry time; this worker goes on with other work,
                # and a timer wakes the workers when the row is due.
                try:
                    decision = await after_failure(self.inbox, self.events, item, channel, exc)
                except StateError:
                    # The database went away under the turn: the row stays claimed until its
                    # lease runs out, then any replica answers it (a recorded reply is resent).
                    await asyncio.sleep(1.0)
                    continue
                if decision.retry:
                    delay = max(0.0, decision.not_before - self.inbox.clock())
                    asyncio.get_running_loop().call_later(delay, self._bell.ring)
            finally:
                # A follow-up in the same conversation is claimed by this worker next.
                self._busy -= 1


    def _tick(self) -> None:
        """Once per POLL_EVERY: one idle worker claims, whatever was rung."""
        if self._bell.waiting:
            self._bell.ring()
        self._poll = asyncio.get_running_loop().call_later(POLL_EVERY, self._tick)

    async def _put_back(self, inbox_id: int) -> None:
        try:
            await self.inbox.put_back(inbox_id)
        except StateError as exc:  # the database is away: the row's lease runs out instead
            log.warning("message %d not put back (%s); it is claimed again after its lease",
                        inbox_id, exc.message, extra={"event": "inbox.put_back_failed"})


def _sender_language(runner: TurnRunner) -> Callable[[str, str], str] | None:
    languages = runner.languages
    return None if languages is None else languages.for_sender
