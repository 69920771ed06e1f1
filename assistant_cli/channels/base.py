"""The channel protocol: how a chat platform hands messages in and gets replies out."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from assistant_cli.domain.messages import DeliveryFailure, InboundMessage
from assistant_cli.domain.tools import ConfirmRequest

if TYPE_CHECKING:
    import asyncio

    from aiohttp import web

    from assistant_cli.domain.events import EventBus
    from assistant_cli.paths import Paths


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """`event.wait()` for at most `timeout` seconds; whether the event is set.

    What `asyncio.wait_for(event.wait(), timeout)` does, without the task wait_for wraps
    its awaitable in before Python 3.12: a turn waits like this twice (typing indicator)
    and an idle worker once per wake-up, so the tasks added up under load."""
    with contextlib.suppress(asyncio.TimeoutError):
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(timeout):
                await event.wait()
        else:
            await asyncio.wait_for(event.wait(), timeout)
    return event.is_set()


class InboundSink(Protocol):
    """Where channels put messages. Both return once the messages are durably stored (so
    the platform may be acknowledged then), False for a redelivery already stored."""

    async def submit(self, msg: InboundMessage) -> bool: ...

    async def submit_many(self, msgs: Sequence[InboundMessage]) -> list[bool]:
        """Several messages that arrived together, in one commit."""
        ...


class Leadership(Protocol):
    """One leader among several `serve` replicas (store/pg_leader.py): `run()` keeps trying
    until cancelled, `is_leader` says whether this replica leads now, `changed` is set when
    that flips. A Telegram poller polls only while it leads."""

    is_leader: bool
    changed: asyncio.Event

    async def run(self) -> None: ...


@dataclass
class ChannelContext:
    """What the engine gives a channel: secrets, paths, events, and the web server."""

    resolve_secret: Callable[[str, str], str]
    paths: Paths
    events: EventBus
    request_stop: Callable[[], None]
    # Add routes to the gateway's aiohttp app (None when the gateway is disabled).
    web_app: web.Application | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Several replicas on one PostgreSQL state: a leader per name (None: one process only).
    leadership: Callable[[str], Leadership] | None = None


class Channel(ABC):
    """A chat platform. Subclasses are registered by platform name under
    `assistant_cli.channels` and built with `(config_section, context)`."""

    platform: ClassVar[str]
    # Shows StatusNote deltas ("using files.read…") in a streaming answer's draft.
    shows_status: ClassVar[bool] = False
    # Can ask the user to confirm a tool call (`confirm`).
    can_confirm: ClassVar[bool] = False

    def __init__(self, config: Any, ctx: ChannelContext) -> None:
        self.config = config
        self.ctx = ctx
        self.ready = False
        self.last_error: str | None = None
        # False on a `serve --role worker` replica: only the send side starts (no polling,
        # no webhook routes); other replicas receive.
        self.receiving = True

    @abstractmethod
    async def start(self, sink: InboundSink) -> None:
        """Begin receiving messages (return once started; receive in background tasks)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop receiving; in-flight replies may still be sent until the engine stops."""

    @abstractmethod
    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        """Show an answer to `msg` as it streams in; return once it is fully delivered."""

    @abstractmethod
    async def send(self, chat_id: str, text: str) -> None:
        """Send a complete text to a chat (notices, pairing codes, resent replies)."""

    def classify_failure(self, exc: BaseException) -> DeliveryFailure | None:
        """What an exception from `reply`/`send` means: permanent (sending again cannot
        succeed) or transient (with the platform's retry_after); None when it is not a
        delivery failure of this platform. The engine retries or gives up by it."""
        return None

    async def confirm(self, msg: InboundMessage, request: ConfirmRequest) -> str | None:
        """Ask the sender of `msg` whether a tool may run: "once", "chat", "always", "deny",
        or None when unanswered within `request.timeout` (or when this channel cannot ask)."""
        return None

    async def prepare(self) -> None:
        """Called before the gateway starts, so channels can add webhook routes."""
        return None
