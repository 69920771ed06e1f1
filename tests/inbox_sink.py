"""The engine's intake without workers, for channel tests: store, report duplicates."""

from __future__ import annotations

from collections.abc import Sequence

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.inbox import Inbox


class InboxSink:
    """Stores into a real inbox (one commit per call, like the engine), no workers."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.batches: list[int] = []  # how many messages each call stored together

    async def submit(self, msg: InboundMessage) -> bool:
        return (await self.submit_many([msg]))[0]

    async def submit_many(self, msgs: Sequence[InboundMessage]) -> list[bool]:
        self.batches.append(len(msgs))
        return [row is not None for row in await self.inbox.add_many(msgs)]
