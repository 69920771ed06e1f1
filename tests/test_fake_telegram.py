"""Checks that the fake Telegram Bot API server works with the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import telegram
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from tests.fakes.telegram_server import DEFAULT_TOKEN, FakeTelegram, parse_html

TOKEN = DEFAULT_TOKEN
OTHER_TOKEN = "654321:XYZ-other-bot-token"
CHAT = 4242


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, tokens={OTHER_TOKEN}, first_update_id=500_000) as fake:
        yield fake


def make_bot(tg: FakeTelegram, token: str = TOKEN) -> telegram.Bot:
    return telegram.Bot(token, base_url=tg.base_url, base_file_url=tg.base_file_url)


def _retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 is migrating retry_after from int to timedelta; accept either form.
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "test_bot"
    assert me.first_name == "TestBot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False


async def test_unknown_token_and_method(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        await make_bot(tg, "999:nope").get_me()
    async with make_bot(tg, OTHER_TOKEN) as other:
        assert (await other.get_me()).id == 654321
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{tg.base_url}{TOKEN}/noSuchMethod")
        assert resp.status_code == 404
        assert resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        resp = await client.get(f"{tg.base_url}999:nope/getMe")
        assert resp.status_code == 401
        assert resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_json_and_query_bodies(tg: FakeTelegram) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            f"{tg.base_url}{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "json"}
        )
        assert resp.json()["result"]["text"] == "json"
        resp = await client.get(
            f"{tg.base_url}{TOKEN}/SENDMESSAGE", params={"chat_id": str(CHAT), "text": "query"}
        )
        assert resp.json()["ok"] is True
        resp = await client.post(
            f"{tg.base_url}{TOKEN}/sendMessage",
            data={"chat_id": str(CHAT)},
            files={"text": (None, "multipart")},
        )
        assert resp.json()["result"]["text"] == "multipart"
    assert tg.messages_to(CHAT) == ["json", "query", "multipart"]
    assert tg.calls("sendmessage")[1]["chat_id"] == CHAT


async def test_get_updates_and_confirm(tg: FakeTelegram) -> None:
    first = tg.push_message(CHAT, "hello", first_name="Bob", username="bob")
    second = tg.push_message(CHAT, "/start now")
    assert second == first + 1 == 500_001
    async with make_bot(tg) as bot:
        updates = await bot.get_updates(timeout=1)
        assert [u.update_id for u in updates] == [first, second]
        msg = updates[0].message
        assert msg is not None and msg.text == "hello"
        assert msg.chat.id == CHAT and msg.chat.type == "private"
        assert msg.from_user is not None and msg.from_user.username == "bob"
        assert msg.date.tzinfo is not None
        assert abs(msg.date.timestamp() - time.time()) < 5
        command = updates[1].message
        assert command is not None and command.entities[0].type == "bot_command"
        assert command.parse_entities() == {command.entities[0]: "/start"}

        # Unconfirmed updates are returned again; an offset confirms everything below it.
        assert len(await bot.get_updates()) == 2
        assert len(await bot.get_updates(offset=second)) == 1
        assert tg.pending_updates() == 1
        assert await bot.get_updates(offset=second + 1) == ()
        assert tg.pending_updates() == 0
        assert tg.confirmed_offset == second + 1


async def test_negative_offset_and_limit(tg: FakeTelegram) -> None:
    ids = [tg.push_message(CHAT, f"m{i}") for i in range(5)]
    async with make_bot(tg) as bot:
        assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
        last_two = await bot.get_updates(offset=-2)
        assert [u.update_id for u in last_two] == ids[-2:]
        assert tg.pending_updates() == 2  # earlier ones are forgotten


async def test_allowed_updates_filter_new_updates(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        await bot.get_updates(allowed_updates=["callback_query"])
        tg.push_message(CHAT, "ignored")
        assert tg.pending_updates() == 0
        await bot.get_updates(allowed_updates=[])
        tg.push_message(CHAT, "kept")
        tg.push_update({"message_reaction": {"chat": {"id": CHAT, "type": "private"}}})
        assert tg.pending_updates() == 1


async def test_long_poll_returns_early(tg: FakeTelegram) -> None:
    timer = threading.Timer(0.3, tg.push_message, args=(CHAT, "wake up"))
    async with make_bot(tg) as bot:
        started = time.monotonic()
        timer.start()
        updates = await bot.get_updates(timeout=5)
        elapsed = time.monotonic() - started
    timer.join()
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert 0.2 < elapsed < 2


async def test_long_poll_times_out_empty(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert 0.9 < time.monotonic() - started < 2.5


async def test_concurrent_polls_conflict(tg: FakeTelegram) -> None:
    async with make_bot(tg) as first, make_bot(tg) as second:
        earlier = asyncio.create_task(first.get_updates(timeout=5))
        await asyncio.sleep(0.3)
        later = asyncio.create_task(second.get_updates(timeout=1))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
            await earlier
        assert await later == ()


async def test_send_edit_delete_and_actions(tg: FakeTelegram) -> None:
    tg.push_message(CHAT, "hi")  # user message takes message_id 1
    async with make_bot(tg) as bot:
        m1 = await bot.send_message(CHAT, "one")
        m2 = await bot.send_message(CHAT, "two", reply_to_message_id=m1.message_id)
        assert (m1.message_id, m2.message_id) == (2, 3)
        assert m1.from_user is not None and m1.from_user.is_bot
        assert m2.reply_to_message is not None and m2.reply_to_message.text == "one"
        assert m1.chat.id == CHAT and abs(m1.date.timestamp() - time.time()) < 5

        edited = await bot.edit_message_text("one, edited", chat_id=CHAT, message_id=m1.message_id)
        assert isinstance(edited, telegram.Message) and edited.edit_date is not None
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("one, edited", chat_id=CHAT, message_id=m1.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
        with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
            await bot.edit_message_text("x", chat_id=CHAT, message_id=1)

        assert await bot.send_chat_action(CHAT, "typing") is True
        with pytest.raises(BadRequest):
            await bot.send_chat_action(CHAT, "dancing")
        assert await bot.delete_message(CHAT, m2.message_id) is True
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(CHAT, m2.message_id)

    assert tg.messages_to(CHAT) == ["one, edited"]
    methods = [c.method for c in tg.sent]
    assert methods.count("sendMessage") == 2 and "sendChatAction" in methods
    assert tg.calls("sendChatAction")[0] == {"chat_id": CHAT, "action": "typing"}


async def test_inline_keyboard_round_trip(tg: FakeTelegram) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    async with make_bot(tg) as bot:
        msg = await bot.send_message(CHAT, "pick", reply_markup=markup)
        assert msg.reply_markup == markup
        # Same text but dropping the keyboard is a modification.
        edited = await bot.edit_message_text("pick", chat_id=CHAT, message_id=msg.message_id)
        assert isinstance(edited, telegram.Message) and edited.reply_markup is None


async def test_html_parse_mode(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        msg = await bot.send_message(
            CHAT, "<b>bold</b> &amp; <a href='https://x.test/?a=1&amp;b=2'>link</a>", "HTML"
        )
        assert msg.text == "bold & link"
        assert [(e.type, e.offset, e.length) for e in msg.entities] == [
            ("bold", 0, 4),
            ("text_link", 7, 4),
        ]
        assert msg.entities[1].url == "https://x.test/?a=1&b=2"
        for bad in ("<b>unclosed", "a < b", "a & b", "1 > 0", "line<br>break", "<i>x</b>"):
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(CHAT, bad, parse_mode="HTML")
        # The plain-text retry a channel would do after a parse failure.
        plain = await bot.send_message(CHAT, "a < b & c")
        assert plain.text == "a < b & c"
    assert tg.messages_to(CHAT)[-1] == "a < b & c"
    failed = [c for c in tg.sent if c.status == 400]
    assert len(failed) == 6 and all("can't parse entities" in (c.error or "") for c in failed)


def test_parse_html_details() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">p</span>'
        "<blockquote expandable>q</blockquote>&#128512;<u>u</u>"
    )
    assert text == "x = 1spq\U0001f600u"
    assert entities[0] == {"type": "pre", "offset": 0, "length": 5, "language": "python"}
    assert [e["type"] for e in entities[1:]] == [
        "spoiler",
        "spoiler",
        "expandable_blockquote",
        "underline",
    ]
    assert entities[-1]["offset"] == 10  # the emoji is two UTF-16 code units
    with pytest.raises(ValueError, match='must have class "tg-spoiler"'):
        parse_html("<span>x</span>")


async def test_length_and_empty_checks(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(CHAT, "x" * 4097)
        assert len((await bot.send_message(CHAT, "x" * 4096)).text or "") == 4096
        tagged = "<b>" + "y" * 4000 + "</b>" + "&lt;" * 90
        assert len((await bot.send_message(CHAT, tagged, parse_mode="HTML")).text or "") == 4090
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(CHAT, "")
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")


async def test_webhook_lifecycle(tg: FakeTelegram) -> None:
    tg.push_message(CHAT, "queued")
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"(?i)HTTPS"):
            await bot.set_webhook("http://example.test/hook")
        assert await bot.set_webhook(
            "https://example.test/hook", secret_token="s3cr3t_-", allowed_updates=["message"]
        )
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        tg.set_webhook_error("Connection refused", date=1_700_000_000)
        info = await bot.get_webhook_info()
        assert info.url == "https://example.test/hook"
        assert info.has_custom_certificate is False
        assert info.pending_update_count == 1
        assert info.last_error_message == "Connection refused"
        assert info.last_error_date is not None and info.last_error_date.year == 2023
        assert tg.webhook() == {
            "url": "https://example.test/hook",
            "secret_token": "s3cr3t_-",
            "max_connections": 40,
            "ip_address": None,
        }
        assert await bot.delete_webhook(drop_pending_updates=True)
        info = await bot.get_webhook_info()
        assert info.url == "" and info.pending_update_count == 0
        assert await bot.get_updates() == ()


async def test_pop_updates_hands_over_the_queue_for_a_webhook_post(tg: FakeTelegram) -> None:
    first = tg.push_message(CHAT, "one")
    second = tg.push_message(CHAT, "two")
    taken = tg.pop_updates()
    assert [(u["update_id"], u["message"]["text"]) for u in taken] == [
        (first, "one"), (second, "two")]
    assert tg.pending_updates() == 0 and tg.pop_updates() == []
    taken[0]["message"]["text"] = "changed"  # a copy: the fake's own records are untouched
    assert tg.messages(CHAT, include_user=True)[0]["text"] == "one"


async def test_set_webhook_interrupts_long_poll(tg: FakeTelegram) -> None:
    async with make_bot(tg) as poller, make_bot(tg) as admin:
        poll = asyncio.create_task(poller.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        await admin.set_webhook("https://example.test/hook")
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await poll


# PTB itself warns about the int->timedelta migration when building RetryAfter.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fault_injection(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        tg.fail_next("sendMessage", 429, parameters={"retry_after": 1})
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(CHAT, "x")
        assert _retry_seconds(info.value) == 1
        assert tg.sent[-1].status == 429
        assert tg.sent[-1].error == "Too Many Requests: retry after 1"
        assert (await bot.send_message(CHAT, "x")).text == "x"

        tg.fail_next("sendMessage", 500, "Internal Server Error", count=2)
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.send_message(CHAT, "y")
        tg.fail_next("*", 401)
        with pytest.raises(InvalidToken):
            await bot.get_me()
        tg.fail_next("getUpdates", 409)
        with pytest.raises(Conflict):
            await bot.get_updates()
        assert (await bot.get_me()).id == 123456


async def test_commands(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        assert await bot.get_my_commands() == ()
        await bot.set_my_commands([BotCommand("help", "Show help"), BotCommand("new", "Reset")])
        await bot.set_my_commands([BotCommand("hilfe", "Hilfe")], language_code="de")
        assert [c.command for c in await bot.get_my_commands()] == ["help", "new"]
        assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["hilfe"]
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("Bad Command", "x")])
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
    assert tg.commands(language_code="de") == [{"command": "hilfe", "description": "Hilfe"}]


async def test_send_message_draft(tg: FakeTelegram) -> None:
    bot = make_bot(tg)
    if not hasattr(bot, "send_message_draft"):
        pytest.skip("installed python-telegram-bot has no send_message_draft")
    async with bot:
        assert await bot.send_message_draft(CHAT, draft_id=7, text="partial") is True
        assert await bot.send_message_draft(CHAT, draft_id=7, text="<b>more</b>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message_draft(CHAT, draft_id=7, text="<b>", parse_mode="HTML")
        with pytest.raises(BadRequest):
            await bot.send_message_draft(-100123, draft_id=7, text="group")
    assert tg.drafts_to(CHAT) == ["partial", "<b>more</b>"]
    assert tg.calls("sendMessageDraft")[0] == {"chat_id": CHAT, "draft_id": 7, "text": "partial"}


async def test_photo_download(tg: FakeTelegram) -> None:
    tg.push_photo(CHAT, caption="look")
    async with make_bot(tg) as bot:
        (update,) = await bot.get_updates()
        assert update.message is not None and update.message.caption == "look"
        file = await update.message.photo[-1].get_file()
        data = await file.download_as_bytearray()
    assert bytes(data).startswith(b"\x89PNG")


async def test_stop_releases_pending_long_poll() -> None:
    tg = FakeTelegram().start()
    async with make_bot(tg, tg.token) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.to_thread(tg.stop)
        assert time.monotonic() - started < 2
        assert await poll == ()


def test_sync_usage_and_wait_for() -> None:
    with FakeTelegram() as tg:
        assert tg.url.startswith("http://127.0.0.1:")
        resp = httpx.post(
            f"{tg.base_url}{tg.token}/sendMessage", data={"chat_id": "1", "text": "x"}
        )
        assert resp.json()["ok"] is True
        threading.Timer(0.1, tg.push_message, args=(1, "later")).start()
        assert tg.wait_for(lambda: tg.pending_updates() == 1, timeout=2)
        assert not tg.wait_for(lambda: False, timeout=0.1)


async def test_ptb_application_polling(tg: FakeTelegram) -> None:
    async def echo(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "<i>welcome</i>", "HTML")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        tg.push_message(CHAT, "/start")
        tg.push_message(CHAT, "ping")
        ok = await tg.async_wait_for(lambda: len(tg.messages_to(CHAT)) == 2, timeout=3)
        await app.updater.stop()
        await app.stop()
    assert ok, tg.messages_to(CHAT)
    assert tg.messages_to(CHAT) == ["welcome", "echo: ping"]
    assert tg.pending_updates() == 0  # PTB confirmed the offset on shutdown
