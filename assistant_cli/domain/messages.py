"""The typed messages that flow from channels through the inbox to providers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from assistant_cli.domain.tools import ToolCall


@dataclass(frozen=True)
class InboundMessage:
    """One message a person sent on a platform, as a channel hands it to the engine.

    `external_id` is unique per platform (Telegram update_id, WhatsApp wamid, a uuid for the
    terminal); the inbox uses it to drop redeliveries.
    """

    platform: str
    external_id: str
    chat_id: str
    sender_id: str
    text: str
    sender_name: str = ""
    kind: str = "text"  # text, or what was sent instead: photo, sticker, voice ...
    is_group: bool = False
    addressed: bool = True  # in a group: mentioned or replied to
    received_at: float = field(default_factory=time.time)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def conversation(self) -> str:
        """Messages of one conversation are answered in order."""
        return f"{self.platform}:{self.chat_id}"


@dataclass(frozen=True)
class InboxItem:
    """A message as stored in the inbox, with its delivery bookkeeping."""

    id: int
    message: InboundMessage
    attempts: int
    reply_text: str | None = None  # set when a reply was generated but not yet marked sent
    reply_sent: bool = False


@dataclass(frozen=True)
class ChatTurn:
    """One turn of a conversation as sent to a model."""

    role: str  # system, user, assistant, tool
    content: str
    # An assistant turn that asked for tools carries the calls; a tool turn answers one.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True)
class DeliveryFailure:
    """Why a send to a platform failed, as the channel classifies it.

    `permanent`: sending again cannot succeed (the person blocked the bot, the chat is
    gone); the message is given up at once. Otherwise it is retried, no earlier than
    `retry_after` seconds when the platform said so, until the configured time limit.
    """

    permanent: bool
    reason: str
    retry_after: float | None = None
