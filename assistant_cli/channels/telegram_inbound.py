"""Reading Telegram updates into the engine's InboundMessage: kind, sender, group addressing.

Updates are read as the Bot API's JSON (plain dicts), not through python-telegram-bot's
object model: building an `Update` with its `Message`, `User` and `Chat` objects for every
incoming message took a tenth of serve's CPU under load, and only a few fields are needed.
Field names and meanings are the Bot API's (https://core.telegram.org/bots/api#message).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from assistant_cli.domain.messages import InboundMessage

# Checked in order: an animation also carries a document, a venue also a location.
MEDIA_KINDS = (
    "photo", "sticker", "voice", "video_note", "video", "animation", "document", "audio",
    "venue", "location", "contact", "poll", "dice",
)
GROUP_TYPES = ("group", "supergroup")
# The entities that can address the bot in a group.
_ADDRESSING = frozenset({"mention", "text_mention", "bot_command"})

Json = Mapping[str, Any]


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is, as getMe reported it; needed to tell whether a group message is ours."""

    id: int
    username: str  # without the @


def to_inbound(update: Json, me: BotIdentity) -> InboundMessage | None:
    """The message in an update, or None for anything the assistant should not answer
    (service messages, edits, channel posts, messages from bots)."""
    message = update.get("message")
    if not isinstance(message, Mapping):
        return None
    sender = message.get("from")
    if not isinstance(sender, Mapping) or sender.get("is_bot"):
        return None
    if message.get("text") is not None:
        kind, text = "text", str(message["text"])
    else:
        found = next((k for k in MEDIA_KINDS if message.get(k)), None)
        if found is None:  # members joining, pinned messages, title changes ...
            return None
        kind, text = found, str(message.get("caption") or "")
    chat = message["chat"]
    chat_type = str(chat["type"])
    is_group = chat_type in GROUP_TYPES
    addressed = True
    if is_group:
        addressed = _addressed(message, me)
        text = strip_mention(text, me.username)
    username = sender.get("username")
    name = str(sender.get("first_name", "")) + (f" @{username}" if username else "")
    meta: dict[str, Any] = {"message_id": message["message_id"], "chat_type": chat_type,
                            "username": username}
    if sender.get("language_code"):  # the user's app language: chooses the catalog of replies
        meta["language_code"] = sender["language_code"]
    return InboundMessage(
        platform="telegram",
        # Per bot: two bots' update ids may collide, and a new token starts a new sequence.
        external_id=f"{me.id}:{update['update_id']}",
        chat_id=str(chat["id"]),
        sender_id=str(sender["id"]),
        sender_name=name,
        text=text,
        kind=kind,
        is_group=is_group,
        addressed=addressed,
        meta=meta,
    )


def _addressed(message: Json, me: BotIdentity) -> bool:
    """In a group: mentioned by @username, replied to, or sent a /command@ourname."""
    reply = message.get("reply_to_message")
    if isinstance(reply, Mapping) and (reply.get("from") or {}).get("id") == me.id:
        return True
    handle = f"@{me.username}".lower()
    for kind, value, user_id in _entities(message):
        if kind == "mention" and value.lower() == handle:
            return True
        if kind == "text_mention" and user_id == me.id:
            return True
        if kind == "bot_command" and value.lower().endswith(handle):
            return True
    return False


def _entities(message: Json) -> Iterator[tuple[str, str, int | None]]:
    """(type, text, user id) of the addressing entities of the text, or of the caption.

    Entity offsets and lengths count UTF-16 code units, as the Bot API documents.
    """
    if message.get("text") is not None:
        text, entities = message["text"], message.get("entities")
    else:
        text, entities = message.get("caption") or "", message.get("caption_entities")
    if not entities:
        return
    units = str(text).encode("utf-16-le")
    for entity in entities:
        kind = entity.get("type")
        if kind not in _ADDRESSING:
            continue
        start = int(entity["offset"]) * 2
        value = units[start:start + int(entity["length"]) * 2].decode("utf-16-le", "replace")
        yield kind, value, (entity.get("user") or {}).get("id")


def strip_mention(text: str, username: str) -> str:
    """Drop a leading "@ourbot" (and the punctuation after it) so the model sees the question."""
    if not username:
        return text
    pattern = rf"^\s*@{re.escape(username)}(?![\w])[\s,:;.!-]*"
    stripped = re.sub(pattern, "", text, count=1, flags=re.IGNORECASE)
    return stripped if stripped.strip() else text
