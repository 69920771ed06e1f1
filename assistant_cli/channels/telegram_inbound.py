"""Reading Telegram updates into the engine's InboundMessage: kind, sender, group addressing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, MessageEntity, Update

from assistant_cli.domain.messages import InboundMessage

# Checked in order: an animation also carries a document, a venue also a location.
MEDIA_KINDS = (
    "photo", "sticker", "voice", "video_note", "video", "animation", "document", "audio",
    "venue", "location", "contact", "poll", "dice",
)
GROUP_TYPES = ("group", "supergroup")


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is, as getMe reported it; needed to tell whether a group message is ours."""

    id: int
    username: str  # without the @


def to_inbound(update: Update, me: BotIdentity) -> InboundMessage | None:
    """The message in an update, or None for anything the assistant should not answer
    (service messages, edits, channel posts, messages from bots)."""
    message = update.message
    if message is None:
        return None
    sender = message.from_user
    if sender is None or sender.is_bot:
        return None
    if message.text is not None:
        kind, text = "text", message.text
    else:
        found = next((k for k in MEDIA_KINDS if getattr(message, k, None)), None)
        if found is None:  # members joining, pinned messages, title changes ...
            return None
        kind, text = found, message.caption or ""
    chat = message.chat
    is_group = chat.type in GROUP_TYPES
    addressed = True
    if is_group:
        addressed = _addressed(message, me)
        text = strip_mention(text, me.username)
    name = sender.first_name + (f" @{sender.username}" if sender.username else "")
    meta = {"message_id": message.message_id, "chat_type": chat.type,
            "username": sender.username}
    if sender.language_code:  # the user's app language: chooses the catalog of replies
        meta["language_code"] = sender.language_code
    return InboundMessage(
        platform="telegram",
        # Per bot: two bots' update ids may collide, and a new token starts a new sequence.
        external_id=f"{me.id}:{update.update_id}",
        chat_id=str(chat.id),
        sender_id=str(sender.id),
        sender_name=name,
        text=text,
        kind=kind,
        is_group=is_group,
        addressed=addressed,
        meta=meta,
    )


def _addressed(message: Message, me: BotIdentity) -> bool:
    """In a group: mentioned by @username, replied to, or sent a /command@ourname."""
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
        return True
    handle = f"@{me.username}".lower()
    wanted: list[str | None] = [
        MessageEntity.MENTION, MessageEntity.TEXT_MENTION, MessageEntity.BOT_COMMAND]
    if message.text is not None:
        found = message.parse_entities(wanted)
    else:
        found = message.parse_caption_entities(wanted)
    for entity, value in found.items():
        value = value.lower()
        if entity.type == MessageEntity.MENTION and value == handle:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and value.endswith(handle):
            return True
    return False


def strip_mention(text: str, username: str) -> str:
    """Drop a leading "@ourbot" (and the punctuation after it) so the model sees the question."""
    if not username:
        return text
    pattern = rf"^\s*@{re.escape(username)}(?![\w])[\s,:;.!-]*"
    stripped = re.sub(pattern, "", text, count=1, flags=re.IGNORECASE)
    return stripped if stripped.strip() else text
