"""Waking idle workers one at a time.

All workers used to wait on one `asyncio.Event`: every stored message (and every finished
turn) woke all of the idle ones, and each ran a claim — a write transaction — of which one
found the row and the others nothing. With 32 workers that was about 70 empty claims per
message at low rates: most of serve's CPU per message there (benchmarks/README.md,
"Issue 15, fourth step").

A ring wakes one waiting worker. A worker that claims a row rings again, since more may
be waiting: a burst of messages wakes as many workers as it needs, one message wakes one
(and one more, which finds nothing). A ring with nobody waiting is kept, up to `limit`, so
a message stored while every worker is between a claim and its wait is not missed.
"""

from __future__ import annotations

import asyncio
import collections


class Doorbell:
    """Wakes waiting workers one per ring."""

    def __init__(self, limit: int) -> None:
        """`limit`: how many rings are kept while nobody waits (the number of workers)."""
        self.limit = max(1, limit)
        # Each waiter's result says how its wait ended: True rung, False timed out.
        self._waiters: collections.deque[asyncio.Future[bool]] = collections.deque()
        self._kept = 0  # rings that found nobody waiting: the next waits return at once

    @property
    def waiting(self) -> int:
        """Workers waiting right now."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    def ring(self, count: int = 1) -> None:
        """Wake `count` waiting workers; rings beyond those waiting are kept for later."""
        while count > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                count -= 1
        self._kept = min(self.limit, self._kept + max(0, count))

    def ring_all(self) -> None:
        """Wake every waiting worker (stopping), and the next `limit` waits at once."""
        self.ring(len(self._waiters) + self.limit)

    async def wait(self, timeout: float | None = None) -> bool:
        """Until rung, or `timeout` seconds; whether it was rung."""
        if self._kept:
            self._kept -= 1
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        # A timer handle rather than asyncio.timeout(): no task or context per wait.
        timer = None if timeout is None else loop.call_later(timeout, _time_up, waiter)
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.ring()  # rung, then cancelled before it could act: pass the ring on
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)


def _time_up(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
