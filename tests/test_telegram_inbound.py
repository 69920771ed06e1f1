"""Reading the Bot API's update JSON into InboundMessage (channels/telegram_inbound.py)."""

from __future__ import annotations

from typing import Any

import pytest

from assistant_cli.channels.telegram_inbound import BotIdentity, to_inbound

ME = BotIdentity(id=999, username="HelperBot")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def update(text: str | None = None, *, chat_type: str = "private",
           **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": 7, "date": 1_700_000_000,
        "chat": {"id": -100 if chat_type != "private" else 42, "type": chat_type},
        "from": {"id": 42, "is_bot": False, "first_name": "Ada", "username": "ada",
                 "language_code": "de"},
    }
    if text is not None:
        body["text"] = text
    body.update(message)
    return {"update_id": 5001, "message": body}


def mention(text: str, word: str, kind: str = "mention", **extra: Any) -> dict[str, Any]:
    """The entity Telegram sends for `word` in `text` (offsets in UTF-16 code units)."""
    start = text.index(word)
    return {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(word), **extra}


def test_a_private_text_message_becomes_an_inbound_message() -> None:
    msg = to_inbound(update("hello"), ME)
    assert msg is not None
    assert (msg.platform, msg.external_id, msg.chat_id, msg.sender_id) == (
        "telegram", "999:5001", "42", "42")
    assert (msg.text, msg.kind, msg.is_group, msg.addressed) == ("hello", "text", False, True)
    assert msg.sender_name == "Ada @ada"
    assert msg.meta == {"message_id": 7, "chat_type": "private", "username": "ada",
                        "language_code": "de"}


@pytest.mark.parametrize("payload", [
    {"update_id": 1, "edited_message": update("x")["message"]},
    {"update_id": 1, "channel_post": update("x")["message"]},
    update(new_chat_members=[{"id": 5, "is_bot": False, "first_name": "B"}]),
    {"update_id": 1, "message": {**update("x")["message"],
                                 "from": {"id": 5, "is_bot": True, "first_name": "OtherBot"}}},
])
def test_edits_posts_service_messages_and_bots_are_not_questions(payload: dict[str, Any]) -> None:
    assert to_inbound(payload, ME) is None


def test_media_takes_its_kind_and_caption() -> None:
    msg = to_inbound(update(photo=[{"file_id": "f", "width": 1, "height": 1}],
                            caption="look"), ME)
    assert msg is not None and (msg.kind, msg.text) == ("photo", "look")
    venue = to_inbound(update(venue={"title": "t"}, location={"latitude": 1}), ME)
    assert venue is not None and venue.kind == "venue"


def test_a_mention_after_an_emoji_is_found_by_utf16_offsets() -> None:
    text = "👋👋 @helperbot what is 2+2?"  # each emoji is two UTF-16 units
    msg = to_inbound(update(text, chat_type="group",
                            entities=[mention(text, "@helperbot")]), ME)
    assert msg is not None and msg.is_group and msg.addressed


def test_group_messages_for_someone_else_are_not_addressed() -> None:
    text = "😀 @otherbot @helperbotx hi"
    msg = to_inbound(update(text, chat_type="supergroup", entities=[
        mention(text, "@otherbot"), mention(text, "@helperbotx")]), ME)
    assert msg is not None and not msg.addressed


@pytest.mark.parametrize("build", [
    lambda: update("/ask@HelperBot now", chat_type="group",
                   entities=[mention("/ask@HelperBot now", "/ask@HelperBot", "bot_command")]),
    lambda: update("hey Helper", chat_type="group", entities=[
        mention("hey Helper", "Helper", "text_mention", user={"id": 999, "is_bot": True,
                                                             "first_name": "Helper"})]),
    lambda: update("sure", chat_type="group", reply_to_message={
        "message_id": 3, "date": 1, "chat": {"id": -100, "type": "group"},
        "from": {"id": 999, "is_bot": True, "first_name": "Helper"}}),
    lambda: update(chat_type="group", photo=[{"file_id": "f"}], caption="@HelperBot this?",
                   caption_entities=[mention("@HelperBot this?", "@HelperBot")]),
])
def test_commands_text_mentions_replies_and_captions_address_the_bot(build: Any) -> None:
    msg = to_inbound(build(), ME)
    assert msg is not None and msg.addressed


def test_the_leading_mention_is_stripped_for_the_model() -> None:
    text = "@HelperBot, what time is it?"
    msg = to_inbound(update(text, chat_type="group", entities=[mention(text, "@HelperBot")]),
                     ME)
    assert msg is not None and msg.text == "what time is it?"
