"""Telegram polling on several `serve` replicas: only the leader polls.

Telegram hands a bot's updates to one `getUpdates` caller at a time, so on a shared
PostgreSQL state the replicas elect one poller (store/pg_leader.py, an advisory lock). The
others wait; when the leader dies its lock is freed and the next replica to try takes over
(within the leader's retry interval, a few seconds). Updates the old leader had stored but
not confirmed are handed out again by Telegram and dropped as duplicates by the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

from assistant_cli.channels.base import Leadership

log = logging.getLogger("assistant_cli.channels.telegram")


def poller_role(token: str) -> str:
    """The leadership name for polling one bot (the token itself never leaves the process)."""
    return "telegram-poller:" + hashlib.sha256(token.encode()).hexdigest()[:16]


async def lead_and_poll(leader: Leadership, poll: Callable[[], Awaitable[None]],
                        handed_over: Callable[[], Awaitable[None]]) -> None:
    """Run `poll()` exactly while `leader` leads; `handed_over()` after each stint."""
    running = asyncio.create_task(leader.run(), name="telegram-leader")
    poller: asyncio.Task[None] | None = None
    try:
        while True:
            while not leader.is_leader:
                leader.changed.clear()
                await leader.changed.wait()
            log.info("this replica polls Telegram now", extra={"event": "telegram.leading"})
            poller = asyncio.ensure_future(poll())
            while leader.is_leader and not poller.done():
                leader.changed.clear()
                flipped = asyncio.ensure_future(leader.changed.wait())
                await asyncio.wait({poller, flipped}, return_when=asyncio.FIRST_COMPLETED)
                flipped.cancel()
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            poller = None
            log.info("this replica stopped polling Telegram (no longer the leader)",
                     extra={"event": "telegram.follower"})
            await handed_over()
    finally:
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
