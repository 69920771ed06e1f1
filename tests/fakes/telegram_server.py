"""In-process fake of the Telegram Bot API (aiohttp on 127.0.0.1) for driving real PTB in tests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import random
import re
import secrets
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "Call",
    "FakeTelegram",
    "parse_html",
]

DEFAULT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"

MAX_TEXT_LENGTH = 4096

# Methods whose calls make up `FakeTelegram.sent`: what the bot "says" to users.
OUTBOUND_METHODS = frozenset(
    {"sendmessage", "editmessagetext", "sendmessagedraft", "sendchataction", "deletemessage"}
)

# Documented default when allowed_updates is unset or []: these must be requested explicitly.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Form-encoded bodies carry every value as a string (PTB JSON-dumps non-strings), so the
# fake coerces known parameters back to their Bot API types before handlers see them.
_INT_PARAMS = frozenset(
    {
        "message_id",
        "draft_id",
        "offset",
        "limit",
        "message_thread_id",
        "reply_to_message_id",
        "max_connections",
        "user_id",
        "from_chat_id",
        "direct_messages_topic_id",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "allow_paid_broadcast",
        "has_spoiler",
    }
)
_JSON_PARAMS = frozenset(
    {
        "entities",
        "caption_entities",
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "suggested_post_parameters",
    }
)
_STR_PARAMS = frozenset({"text", "parse_mode", "action", "url", "secret_token", "language_code"})

_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})


class ApiError(Exception):
    """A Bot API error reply; raise it from a handler registered with `FakeTelegram.register`."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class Call:
    """One request the fake received; `status`/`error` are filled in once it has been answered."""

    method: str
    params: dict[str, Any]
    timestamp: float
    token: str
    status: int | None = None
    error: str | None = None


@dataclass
class _Fault:
    method: str  # lower-cased, or "*" for any method
    status: int
    description: str
    parameters: dict[str, Any] | None
    remaining: int


@dataclass
class _Message:
    message_id: int
    chat_id: int
    from_bot: bool
    payload: dict[str, Any]  # the full Message object as the API would return it
    raw_text: str | None = None
    parse_mode: str | None = None
    deleted: bool = False

    @property
    def text(self) -> str | None:
        text = self.payload.get("text", self.payload.get("caption"))
        return text if isinstance(text, str) else None


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class _BotState:
    token: str
    user: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed_offset: int = 0
    allowed_updates: list[str] | None = None
    webhook: dict[str, Any] | None = None
    webhook_error: tuple[int, str] | None = None
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: dict[int, dict[int, _Message]] = field(default_factory=dict)
    next_message_id: dict[int, int] = field(default_factory=dict)
    poll_seq: int = 0
    # Only touched on the server loop: replaced after every wake-up so waiters never miss one.
    changed: asyncio.Event | None = None


# --------------------------------------------------------------------------- HTML entities

_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REF_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]*);")
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_:-]+")
_UNQUOTED_VALUE_RE = re.compile(r"[^\s>]*")


class _EntityParseError(ValueError):
    pass


def _utf16_len(text: str) -> int:
    # Bot API entity offsets/lengths are in UTF-16 code units, not code points.
    return len(text.encode("utf-16-le")) // 2


def _decode_char_ref(match: re.Match[str]) -> str | None:
    body = match.group(1)
    if not body.startswith("#"):
        return _NAMED_ENTITIES.get(body)
    code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _unescape_attr(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        decoded = _decode_char_ref(match)
        return match.group(0) if decoded is None else decoded

    return _CHAR_REF_RE.sub(repl, value)


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the visible text
    language: str | None = None
    order: int = 0  # position among opened tags, so outer entities sort first on ties


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into (visible text, MessageEntity dicts).

    Raises ValueError with the API's "can't parse entities" detail on malformed markup.
    """
    out: list[str] = []
    entities: list[tuple[int, dict[str, Any]]] = []
    opened = 0
    stack: list[_OpenTag] = []
    pos16 = 0
    i = 0
    n = len(text)

    def at(index: int) -> str:
        return f"at byte offset {len(text[:index].encode())}"

    def close(tag: _OpenTag) -> None:
        length = pos16 - tag.offset
        entity: dict[str, Any] = {"type": _HTML_TAGS[tag.name], "offset": tag.offset}
        if tag.name == "code":
            lang = tag.attrs.get("class", "")
            if stack and stack[-1].name == "pre" and lang.startswith("language-"):
                # <pre><code class="language-x"> is one pre entity carrying the language.
                stack[-1].language = lang[len("language-") :]
                return
        elif tag.name == "pre":
            if tag.language:
                entity["language"] = tag.language
        elif tag.name == "a":
            href = tag.attrs.get("href")
            if not href:
                return
            entity["url"] = href
        elif tag.name == "blockquote":
            if "expandable" in tag.attrs:
                entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        if length > 0:
            entity["length"] = length
            entities.append((tag.order, entity))

    while i < n:
        char = text[i]
        if char == "<":
            if text.startswith("</", i):
                end = text.find(">", i)
                if end < 0:
                    raise _EntityParseError(f"Unclosed end tag {at(i)}")
                name = text[i + 2 : end].strip().lower()
                if not stack:
                    raise _EntityParseError(f"Unexpected end tag {at(i)}")
                top = stack.pop()
                if name != top.name:
                    raise _EntityParseError(
                        f'Unmatched end tag {at(i)}, expected "</{top.name}>", found "</{name}>"'
                    )
                close(top)
                i = end + 1
                continue
            tag_start = i
            name_match = _TAG_NAME_RE.match(text, i + 1)
            name = name_match.group(0).lower() if name_match else ""
            if name not in _HTML_TAGS or name_match is None:
                raise _EntityParseError(f'Unsupported start tag "{name}" {at(tag_start)}')
            i = name_match.end()
            attrs: dict[str, str] = {}
            while True:
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    raise _EntityParseError(f"Unclosed start tag {at(tag_start)}")
                if text[i] == ">":
                    i += 1
                    break
                attr_match = _ATTR_NAME_RE.match(text, i)
                if attr_match is None:
                    raise _EntityParseError(f'Empty attribute name in the tag "{name}" {at(i)}')
                attr = attr_match.group(0).lower()
                i = attr_match.end()
                while i < n and text[i].isspace():
                    i += 1
                value = ""
                if i < n and text[i] == "=":
                    i += 1
                    while i < n and text[i].isspace():
                        i += 1
                    if i >= n:
                        raise _EntityParseError(f"Unclosed start tag {at(tag_start)}")
                    if text[i] in "\"'":
                        end = text.find(text[i], i + 1)
                        if end < 0:
                            raise _EntityParseError(f"Unclosed end of attribute value {at(i)}")
                        value = text[i + 1 : end]
                        i = end + 1
                    else:
                        value_match = _UNQUOTED_VALUE_RE.match(text, i)
                        assert value_match is not None  # the pattern matches the empty string
                        value = value_match.group(0)
                        i = value_match.end()
                    value = _unescape_attr(value)
                attrs[attr] = value
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _EntityParseError(f'Tag "span" must have class "tg-spoiler" {at(tag_start)}')
            if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                raise _EntityParseError(
                    f"Invalid custom emoji identifier specified {at(tag_start)}"
                )
            stack.append(_OpenTag(name, attrs, pos16, order=opened))
            opened += 1
            continue
        if char == "&":
            ref = _CHAR_REF_RE.match(text, i)
            decoded = _decode_char_ref(ref) if ref else None
            if ref is None or decoded is None:
                raise _EntityParseError(f'Unescaped "&" or unsupported entity {at(i)}')
            out.append(decoded)
            pos16 += _utf16_len(decoded)
            i = ref.end()
            continue
        if char == ">":
            # The docs require escaping '>' outside tags too; stricter than tdlib, on purpose.
            raise _EntityParseError(f'Unescaped ">" {at(i)}')
        out.append(char)
        pos16 += 2 if ord(char) > 0xFFFF else 1
        i += 1

    if stack:
        raise _EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    entities.sort(key=lambda item: (item[1]["offset"], -item[1]["length"], item[0]))
    return "".join(out), [entity for _, entity in entities]


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    # Telegram strips surrounding whitespace from message text and shifts entities along.
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead16 = _utf16_len(text[: len(text) - len(text.lstrip())])
    total16 = _utf16_len(stripped)
    fixed: list[dict[str, Any]] = []
    for entity in entities:
        start = max(int(entity.get("offset", 0)) - lead16, 0)
        end = min(int(entity.get("offset", 0)) + int(entity.get("length", 0)) - lead16, total16)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return stripped, fixed


def _format_text(
    text: str | None, parse_mode: str | None, entities: Any, *, allow_empty: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """Apply parse_mode / entities like the API does; raise ApiError on invalid input."""
    text = text or ""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        try:
            visible, parsed = parse_html(text)
        except _EntityParseError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown flavours are passed through unvalidated (not needed by our channel).
        visible = text
        parsed = [dict(e) for e in entities] if isinstance(entities, list) else []
    else:
        raise _bad_request("unsupported parse_mode")
    visible, parsed = _trim(visible, parsed)
    if not visible and not allow_empty:
        raise _bad_request("message text is empty")
    if len(visible) > MAX_TEXT_LENGTH:
        raise _bad_request("message is too long")
    return visible, parsed


# --------------------------------------------------------------------------- misc helpers


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _update_type(update: dict[str, Any]) -> str | None:
    return next((key for key in update if key != "update_id"), None)


def _coerce(name: str, value: Any) -> Any:
    if hasattr(value, "read"):
        return value
    try:
        if name == "chat_id":
            if isinstance(value, str) and not value.startswith("@"):
                return int(value.strip())
            return value
        if name in _INT_PARAMS:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if name in _FLOAT_PARAMS:
            return float(value)
        if name in _BOOL_PARAMS:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "1"):
                    return True
                if lowered in ("false", "0", ""):
                    return False
                raise ValueError
            return bool(value)
        if name in _JSON_PARAMS and isinstance(value, str):
            return json.loads(value)
        if name in _STR_PARAMS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    except (ValueError, TypeError):
        raise _bad_request(f'parameter "{name}" has an invalid value') from None
    return value


def _scope_key(scope: Any, language_code: Any) -> str:
    scope_obj = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps([scope_obj, language_code or ""], sort_keys=True)


# --------------------------------------------------------------------------- the server

Handler = Callable[[_BotState, dict[str, Any]], Any]


class FakeTelegram:
    """A fake Bot API server running on its own event loop in a background thread.

    Use as ``with FakeTelegram() as tg:`` (or ``async with``) and point PTB at
    ``tg.base_url`` / ``tg.base_file_url``. All helpers are safe to call from any thread.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        tokens: Iterable[str] = (),
        allow_insecure_webhook: bool = False,
        first_update_id: int | None = None,
    ) -> None:
        self.token = token
        self.tokens: set[str] = {token, *tokens}
        # The real API insists on HTTPS and ports 80/88/443/8443; tests may relax that.
        self.allow_insecure_webhook = allow_insecure_webhook
        # A random-ish base catches code that assumes update ids start at 0 or 1.
        self._next_update_id = (
            first_update_id if first_update_id is not None else random.randint(100_000, 899_999)
        )
        self._lock = threading.RLock()
        self._bots: dict[str, _BotState] = {}
        self._log: list[Call] = []
        self._faults: list[_Fault] = []
        self._files: dict[str, _File] = {}
        self._custom: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._hold_above: int | None = None  # see hold_confirmations()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "sendchataction": self._send_chat_action,
            "sendmessagedraft": self._send_message_draft,
            "deletemessage": self._delete_message,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getfile": self._get_file,
            "answercallbackquery": self._answer_callback_query,
        }
        # callback_query id → the answer the bot gave (None until answered)
        self.callback_answers: dict[str, dict[str, Any] | None] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (PTB appends ``{token}/{method}``)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    def start(self) -> FakeTelegram:
        if self._thread is not None:
            raise RuntimeError("FakeTelegram already started")
        # Binding here (not in the thread) means the port is known before start() returns.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        ready = threading.Event()
        self._closing = False
        self._thread = threading.Thread(
            target=self._run, args=(sock, ready), name="fake-telegram", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeTelegram did not start in time")
        if self._startup_error is not None:
            raise RuntimeError("FakeTelegram failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = None
            self._loop = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTelegram:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup(sock))
        except BaseException as exc:
            self._startup_error = exc
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        # Long polls are woken on shutdown, so a short grace period is plenty.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        self._closing = True
        for bot in list(self._bots.values()):
            self._wake(bot)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _reply(status: int, body: dict[str, Any]) -> web.Response:
        return web.json_response(body, status=status)

    @classmethod
    def _error(cls, err: ApiError) -> web.Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": err.status,
            "description": err.description,
        }
        if err.parameters:
            body["parameters"] = err.parameters
        return cls._reply(err.status, body)

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return self._error(ApiError(404, "Not Found"))

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return {key: _coerce(key, value) for key, value in params.items()}
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise _bad_request("JSON object expected")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "data": value.file.read(),
                    }
                else:
                    params[key] = value
        return {key: _coerce(key, value) for key, value in params.items()}

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        bot = self._bot(token)
        if bot is None:
            return self._error(ApiError(401, "Unauthorized"))
        try:
            params = await self._read_params(request)
        except ApiError as err:
            return self._error(err)
        call = Call(method=method, params=params, timestamp=time.time(), token=token)
        with self._lock:
            self._log.append(call)
        try:
            result, description = await self._dispatch(bot, method, params)
        except ApiError as err:
            call.status, call.error = err.status, err.description
            return self._error(err)
        call.status = 200
        body: dict[str, Any] = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return self._reply(200, body)

    async def _dispatch(
        self, bot: _BotState, method: str, params: dict[str, Any]
    ) -> tuple[Any, str | None]:
        key = method.lower()  # Bot API method names are case-insensitive
        fault = self._take_fault(key)
        if fault is not None:
            raise ApiError(fault.status, fault.description, fault.parameters)
        custom = self._custom.get(key)
        if custom is not None:
            result = custom(params)
            if inspect.isawaitable(result):
                result = await result
            return result, None
        handler = self._handlers.get(key)
        if handler is None:
            raise ApiError(404, "Not Found")
        result = handler(bot, params)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, tuple):
            return result[0], result[1]
        return result, None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self._bot(request.match_info["token"]) is None:
            return self._error(ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        with self._lock:
            found = next((f for f in self._files.values() if f.file_path == path), None)
        if found is None:
            return self._error(ApiError(404, "Not Found"))
        return web.Response(body=found.data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ state helpers

    def _bot(self, token: str | None = None) -> _BotState | None:
        token = token or self.token
        if token not in self.tokens:
            return None
        with self._lock:
            bot = self._bots.get(token)
            if bot is None:
                prefix = token.split(":", 1)[0]
                bot_id = int(prefix) if prefix.isdigit() else 123456
                suffix = "" if token == self.token else f"_{bot_id}"
                bot = _BotState(
                    token=token,
                    user={
                        "id": bot_id,
                        "is_bot": True,
                        "first_name": "TestBot",
                        "username": f"test_bot{suffix}",
                        "can_join_groups": True,
                        "can_read_all_group_messages": False,
                        "supports_inline_queries": False,
                    },
                )
                self._bots[token] = bot
            return bot

    def _require_bot(self, token: str | None) -> _BotState:
        bot = self._bot(token)
        if bot is None:
            raise KeyError(f"unknown token {token!r}; add it to FakeTelegram.tokens first")
        return bot

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*"):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _wake(self, bot: _BotState) -> None:
        # Runs on the server loop only.
        event, bot.changed = bot.changed, None
        if event is not None:
            event.set()

    def _wake_threadsafe(self, bot: _BotState) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, bot)

    def _enqueue(self, bot: _BotState, update: dict[str, Any]) -> int:
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
                self._next_update_id += 1
            else:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            update_id = int(update["update_id"])
            kind = _update_type(update)
            allowed = bot.allowed_updates
            accepted = kind in allowed if allowed else kind not in _OPT_IN_UPDATE_TYPES
            # Filtering happens at creation time, exactly as documented for allowed_updates.
            if accepted and update_id >= bot.confirmed_offset:
                bot.updates.append(update)
                bot.updates.sort(key=lambda u: int(u["update_id"]))
        self._wake_threadsafe(bot)
        return update_id

    def _resolve_chat_id(self, bot: _BotState, chat_id: Any) -> int:
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, str):
            with self._lock:
                for chat in bot.chats.values():
                    if f"@{chat.get('username', '')}".lower() == chat_id.lower():
                        return int(chat["id"])
            raise _bad_request("chat not found")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        return chat_id

    def _chat(self, bot: _BotState, chat_id: int) -> dict[str, Any]:
        with self._lock:
            chat = bot.chats.get(chat_id)
            if chat is None:
                if chat_id > 0:
                    chat = {"id": chat_id, "type": "private", "first_name": "User"}
                elif str(chat_id).startswith("-100"):
                    chat = {"id": chat_id, "type": "supergroup", "title": "Test supergroup"}
                else:
                    chat = {"id": chat_id, "type": "group", "title": "Test group"}
                bot.chats[chat_id] = chat
            return dict(chat)

    def _new_message_id(self, bot: _BotState, chat_id: int) -> int:
        with self._lock:
            message_id = bot.next_message_id.get(chat_id, 1)
            bot.next_message_id[chat_id] = message_id + 1
            return message_id

    def _store(self, bot: _BotState, message: _Message) -> None:
        with self._lock:
            bot.messages.setdefault(message.chat_id, {})[message.message_id] = message

    def _find(self, bot: _BotState, chat_id: int, message_id: int) -> _Message | None:
        with self._lock:
            message = bot.messages.get(chat_id, {}).get(message_id)
            return None if message is None or message.deleted else message

    # ------------------------------------------------------------------ API methods

    def _get_me(self, bot: _BotState, params: dict[str, Any]) -> Any:
        return dict(bot.user)

    async def _get_updates(self, bot: _BotState, params: dict[str, Any]) -> Any:
        if bot.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        limit = min(max(limit, 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        while self._hold_above is not None and offset > self._hold_above and not self._closing:
            await asyncio.sleep(0.02)  # the confirmation has not "arrived" yet
        with self._lock:
            if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
                bot.allowed_updates = [str(t) for t in params["allowed_updates"]]
            if offset > 0:
                bot.updates = [u for u in bot.updates if int(u["update_id"]) >= offset]
                bot.confirmed_offset = max(bot.confirmed_offset, offset)
            elif offset < 0:
                bot.updates = bot.updates[offset:]
                first = int(bot.updates[0]["update_id"]) if bot.updates else self._next_update_id
                bot.confirmed_offset = max(bot.confirmed_offset, first)
            bot.poll_seq += 1
            my_seq = bot.poll_seq
        # A newer getUpdates ends any long poll still in flight, like the real server.
        self._wake(bot)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._closing:
                return []
            if bot.poll_seq != my_seq:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if bot.webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if bot.changed is None:
                bot.changed = asyncio.Event()
            event = bot.changed
            with self._lock:
                batch = [copy.deepcopy(u) for u in bot.updates[:limit]]
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                return batch
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _send_message(self, bot: _BotState, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat_id(bot, params.get("chat_id"))
        raw = params.get("text")
        text, entities = _format_text(raw, params.get("parse_mode"), params.get("entities"))
        reply_to = params.get("reply_parameters")
        reply_id = (
            reply_to.get("message_id")
            if isinstance(reply_to, dict)
            else params.get("reply_to_message_id")
        )
        reply_target: _Message | None = None
        if reply_id is not None:
            reply_chat = chat_id
            if isinstance(reply_to, dict) and reply_to.get("chat_id") is not None:
                reply_chat = self._resolve_chat_id(bot, reply_to["chat_id"])
            reply_target = self._find(bot, reply_chat, int(reply_id))
            lenient = params.get("allow_sending_without_reply") or (
                isinstance(reply_to, dict) and reply_to.get("allow_sending_without_reply")
            )
            if reply_target is None and not lenient:
                raise _bad_request("message to be replied not found")
        message_id = self._new_message_id(bot, chat_id)
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": dict(bot.user),
            "chat": self._chat(bot, chat_id),
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            payload["entities"] = entities
        if params.get("message_thread_id") is not None:
            payload["message_thread_id"] = params["message_thread_id"]
        if reply_target is not None:
            payload["reply_to_message"] = copy.deepcopy(reply_target.payload)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            payload["reply_markup"] = markup
        self._store(
            bot,
            _Message(
                message_id=message_id,
                chat_id=chat_id,
                from_bot=True,
                payload=payload,
                raw_text=raw,
                parse_mode=params.get("parse_mode"),
            ),
        )
        return copy.deepcopy(payload)

    def _edit_message_text(self, bot: _BotState, params: dict[str, Any]) -> Any:
        raw = params.get("text")
        text, entities = _format_text(raw, params.get("parse_mode"), params.get("entities"))
        if params.get("inline_message_id"):
            # Inline messages live outside any chat we track; accept the edit blindly.
            return True
        chat_id = self._resolve_chat_id(bot, params.get("chat_id"))
        if params.get("message_id") is None:
            raise _bad_request("message identifier is not specified")
        with self._lock:
            message = self._find(bot, chat_id, int(params["message_id"]))
            if message is None:
                raise _bad_request("message to edit not found")
            if not message.from_bot:
                raise _bad_request("message can't be edited")
            markup = params.get("reply_markup")
            new_markup = (
                markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
            )
            old = message.payload
            if (
                old.get("text") == text
                and (old.get("entities") or []) == entities
                and old.get("reply_markup") == new_markup
            ):
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            old["text"] = text
            if entities:
                old["entities"] = entities
            else:
                old.pop("entities", None)
            # Omitting reply_markup on edit removes the inline keyboard, as on the real API.
            if new_markup is None:
                old.pop("reply_markup", None)
            else:
                old["reply_markup"] = new_markup
            old["edit_date"] = int(time.time())
            message.raw_text = raw
            message.parse_mode = params.get("parse_mode")
            return copy.deepcopy(old)

    def _send_chat_action(self, bot: _BotState, params: dict[str, Any]) -> Any:
        self._resolve_chat_id(bot, params.get("chat_id"))
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _send_message_draft(self, bot: _BotState, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat_id(bot, params.get("chat_id"))
        if chat_id <= 0:
            raise _bad_request("TEXTDRAFT_PEER_INVALID")
        draft_id = params.get("draft_id")
        if not draft_id:
            raise _bad_request("draft_id must be non-zero")
        # An empty draft is allowed: it shows a "Thinking..." placeholder (Bot API 10.0).
        _format_text(
            params.get("text"), params.get("parse_mode"), params.get("entities"), allow_empty=True
        )
        return True

    def _delete_message(self, bot: _BotState, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat_id(bot, params.get("chat_id"))
        if params.get("message_id") is None:
            raise _bad_request("message identifier is not specified")
        with self._lock:
            message = self._find(bot, chat_id, int(params["message_id"]))
            if message is None:
                raise _bad_request("message to delete not found")
            message.deleted = True
        return True

    def _set_webhook(self, bot: _BotState, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        if not url:
            return self._delete_webhook(bot, params)
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad_request("invalid webhook URL specified")
        if not self.allow_insecure_webhook:
            if parts.scheme != "https":
                raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if (parts.port or 443) not in _WEBHOOK_PORTS:
                raise _bad_request(
                    "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise _bad_request("invalid max_connections specified")
        with self._lock:
            if isinstance(params.get("allowed_updates"), list):
                bot.allowed_updates = [str(t) for t in params["allowed_updates"]]
            if params.get("drop_pending_updates"):
                self._drop_pending(bot)
            bot.webhook = {
                "url": str(url),
                "secret_token": secret,
                "max_connections": max_connections,
                "ip_address": params.get("ip_address"),
            }
        # An in-flight long poll must notice the webhook and fail with 409.
        self._wake(bot)
        return True, "Webhook was set"

    def _drop_pending(self, bot: _BotState) -> None:
        with self._lock:
            if bot.updates:
                last = int(bot.updates[-1]["update_id"])
                bot.confirmed_offset = max(bot.confirmed_offset, last + 1)
            bot.updates = []

    def _delete_webhook(self, bot: _BotState, params: dict[str, Any]) -> Any:
        with self._lock:
            had_webhook = bot.webhook is not None
            bot.webhook = None
            bot.webhook_error = None
            if params.get("drop_pending_updates"):
                self._drop_pending(bot)
        return True, "Webhook was deleted" if had_webhook else "Webhook is already deleted"

    def _get_webhook_info(self, bot: _BotState, params: dict[str, Any]) -> Any:
        with self._lock:
            info: dict[str, Any] = {
                "url": bot.webhook["url"] if bot.webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(bot.updates),
            }
            if bot.webhook:
                info["max_connections"] = bot.webhook["max_connections"]
                if bot.webhook.get("ip_address"):
                    info["ip_address"] = bot.webhook["ip_address"]
                if bot.allowed_updates:
                    info["allowed_updates"] = list(bot.allowed_updates)
            if bot.webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = bot.webhook_error
            return info

    def _set_my_commands(self, bot: _BotState, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        cleaned: list[dict[str, Any]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse BotCommand")
            command = str(item.get("command", "")).lstrip("/")
            description = str(item.get("description", ""))
            if not _COMMAND_RE.fullmatch(command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = _scope_key(params.get("scope"), params.get("language_code"))
        with self._lock:
            if cleaned:
                bot.commands[key] = cleaned
            else:
                bot.commands.pop(key, None)
        return True

    def _get_my_commands(self, bot: _BotState, params: dict[str, Any]) -> Any:
        key = _scope_key(params.get("scope"), params.get("language_code"))
        with self._lock:
            return copy.deepcopy(bot.commands.get(key, []))

    def _delete_my_commands(self, bot: _BotState, params: dict[str, Any]) -> Any:
        key = _scope_key(params.get("scope"), params.get("language_code"))
        with self._lock:
            bot.commands.pop(key, None)
        return True

    def _get_file(self, bot: _BotState, params: dict[str, Any]) -> Any:
        with self._lock:
            found = self._files.get(str(params.get("file_id") or ""))
        if found is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": found.file_id,
            "file_unique_id": found.file_unique_id,
            "file_size": len(found.data),
            "file_path": found.file_path,
        }

    # ------------------------------------------------------------------ test helpers: inbound

    def _answer_callback_query(self, bot: _BotState, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        with self._lock:
            if query_id not in self.callback_answers:
                raise _bad_request("query is too old and response timeout expired or query ID "
                                   "is invalid")
            self.callback_answers[query_id] = {k: v for k, v in params.items()
                                               if k != "callback_query_id"}
        return True

    def push_callback_query(self, chat_id: int, message_id: int, data: str, *,
                            user_id: int | None = None, first_name: str = "Alice",
                            token: str | None = None) -> str:
        """A user pressed an inline-keyboard button under the bot's message `message_id`;
        returns the callback query's id (its answer shows up in `callback_answers`)."""
        bot = self._require_bot(token)
        message = self._find(bot, chat_id, message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        user_id = chat_id if user_id is None else user_id
        query_id = str(secrets.randbits(63))
        with self._lock:
            self.callback_answers[query_id] = None
        self._enqueue(bot, {"callback_query": {
            "id": query_id, "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "message": copy.deepcopy(message.payload), "chat_instance": str(chat_id * 7),
            "data": data}})
        return query_id

    def keyboard(self, chat_id: int, *, token: str | None = None
                 ) -> tuple[int, list[dict[str, Any]]] | None:
        """(message_id, buttons) of the newest bot message in a chat that shows an inline
        keyboard, or None."""
        bot = self._require_bot(token)
        with self._lock:
            for message in reversed(list(bot.messages.get(chat_id, {}).values())):
                markup = message.payload.get("reply_markup")
                if message.from_bot and not message.deleted and markup:
                    rows = markup.get("inline_keyboard") or []
                    return message.message_id, [b for row in rows for b in row]
        return None

    def push_update(self, update: dict[str, Any], *, token: str | None = None) -> int:
        """Queue an arbitrary update (``update_id`` is assigned if missing); return its id."""
        return self._enqueue(self._require_bot(token), copy.deepcopy(update))

    def pop_updates(self, *, token: str | None = None) -> list[dict[str, Any]]:
        """Remove and return the queued updates: what a webhook delivery would carry.

        The fake never calls webhooks itself; a test posts these to the one under test.
        """
        bot = self._require_bot(token)
        with self._lock:
            taken, bot.updates = bot.updates, []
        return [copy.deepcopy(u) for u in taken]

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        chat_type: str = "private",
        reply_to_bot: bool = False,
        entities: list[dict[str, Any]] | None = None,
        token: str | None = None,
        language_code: str | None = None,
    ) -> int:
        """Queue a text message from a user; return the update_id.

        With ``entities=None`` bot commands and @mentions are detected like Telegram does
        (PTB's CommandHandler needs the ``bot_command`` entity); pass ``[]`` to disable.
        """
        bot = self._require_bot(token)
        message = self._user_message(
            bot, chat_id, user_id, first_name, username, chat_type, reply_to_bot
        )
        message["text"] = text
        if language_code is not None and "from" in message:
            message["from"]["language_code"] = language_code  # the user's app language
        detected = _detect_entities(text) if entities is None else entities
        if detected:
            message["entities"] = detected
        return self._push_user_message(bot, chat_id, chat_type, message)

    def push_photo(
        self,
        chat_id: int,
        user_id: int | None = None,
        *,
        caption: str | None = None,
        data: bytes | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        chat_type: str = "private",
        token: str | None = None,
    ) -> int:
        """Queue a photo message (downloadable via getFile); return the update_id."""
        bot = self._require_bot(token)
        payload = data if data is not None else _tiny_png()
        ext = "jpg" if payload.startswith(b"\xff\xd8") else "png"
        thumb_id = self.add_file(payload, file_path=None, ext=ext, folder="photos")
        full_id = self.add_file(payload, file_path=None, ext=ext, folder="photos")
        message = self._user_message(
            bot, chat_id, user_id, first_name, username, chat_type, reply_to_bot=False
        )
        with self._lock:
            thumb, full = self._files[thumb_id], self._files[full_id]
        message["photo"] = [
            {
                "file_id": f.file_id,
                "file_unique_id": f.file_unique_id,
                "width": size,
                "height": size,
                "file_size": len(f.data),
            }
            for f, size in ((thumb, 90), (full, 1280))
        ]
        if caption:
            message["caption"] = caption
        return self._push_user_message(bot, chat_id, chat_type, message)

    def add_file(
        self,
        data: bytes,
        *,
        file_path: str | None = None,
        ext: str = "bin",
        folder: str = "documents",
    ) -> str:
        """Register downloadable bytes; return a file_id usable with getFile."""
        with self._lock:
            index = len(self._files)
            file_id = f"FAKEFILE{index:06d}{random.randint(0, 1 << 30):x}"
            path = file_path or f"{folder}/file_{index}.{ext}"
            self._files[file_id] = _File(file_id, f"u{index:06d}", path, bytes(data))
        return file_id

    def _user_message(
        self,
        bot: _BotState,
        chat_id: int,
        user_id: int | None,
        first_name: str,
        username: str | None,
        chat_type: str,
        reply_to_bot: bool,
    ) -> dict[str, Any]:
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 10001
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat.update({k: v for k, v in user.items() if k in ("first_name", "username")})
        else:
            chat["title"] = f"Test {chat_type}"
        with self._lock:
            bot.chats[chat_id] = chat
        message: dict[str, Any] = {
            "message_id": self._new_message_id(bot, chat_id),
            "date": int(time.time()),
            "chat": dict(chat),
        }
        if chat_type == "channel":
            message["sender_chat"] = dict(chat)
        else:
            message["from"] = user
        if reply_to_bot:
            message["reply_to_message"] = self._last_bot_message(bot, chat_id)
        return message

    def _last_bot_message(self, bot: _BotState, chat_id: int) -> dict[str, Any]:
        with self._lock:
            for message in reversed(list(bot.messages.get(chat_id, {}).values())):
                if message.from_bot and not message.deleted:
                    return copy.deepcopy(message.payload)
        # Nothing sent yet: invent an earlier bot message so the reply still points at the bot.
        stub_id = self._new_message_id(bot, chat_id)
        stub: dict[str, Any] = {
            "message_id": stub_id,
            "date": int(time.time()) - 60,
            "chat": self._chat(bot, chat_id),
            "from": dict(bot.user),
            "text": "(earlier bot message)",
        }
        self._store(bot, _Message(stub_id, chat_id, True, copy.deepcopy(stub)))
        return stub

    def _push_user_message(
        self, bot: _BotState, chat_id: int, chat_type: str, message: dict[str, Any]
    ) -> int:
        self._store(bot, _Message(message["message_id"], chat_id, False, copy.deepcopy(message)))
        kind = "channel_post" if chat_type == "channel" else "message"
        return self._enqueue(bot, {kind: message})

    # ------------------------------------------------------------------ test helpers: outbound

    @property
    def sent(self) -> list[Call]:
        """Snapshot of sendMessage/editMessageText/sendMessageDraft/sendChatAction/deleteMessage
        calls (including failed ones, see ``Call.status``)."""
        with self._lock:
            return [c for c in self._log if c.method.lower() in OUTBOUND_METHODS]

    @property
    def log(self) -> list[Call]:
        """Snapshot of every API call received, in order."""
        with self._lock:
            return list(self._log)

    def calls(self, method: str, *, token: str | None = None) -> list[dict[str, Any]]:
        """Params of every call to ``method`` (case-insensitive), oldest first."""
        wanted = method.lower()
        with self._lock:
            return [
                dict(c.params)
                for c in self._log
                if c.method.lower() == wanted and (token is None or c.token == token)
            ]

    def messages(
        self,
        chat_id: int,
        *,
        include_user: bool = False,
        include_deleted: bool = False,
        token: str | None = None,
    ) -> list[dict[str, Any]]:
        """Full Message objects in a chat (edits applied), oldest first."""
        bot = self._require_bot(token)
        with self._lock:
            return [
                copy.deepcopy(m.payload)
                for m in bot.messages.get(chat_id, {}).values()
                if (include_user or m.from_bot) and (include_deleted or not m.deleted)
            ]

    def messages_to(self, chat_id: int, *, token: str | None = None) -> list[str]:
        """Visible texts of the bot's surviving messages in a chat, edits applied."""
        bot = self._require_bot(token)
        with self._lock:
            return [
                m.text or ""
                for m in bot.messages.get(chat_id, {}).values()
                if m.from_bot and not m.deleted
            ]

    def drafts_to(self, chat_id: int, *, token: str | None = None) -> list[str]:
        """Texts of successful sendMessageDraft calls to a chat, in order."""
        with self._lock:
            return [
                str(c.params.get("text") or "")
                for c in self._log
                if c.method.lower() == "sendmessagedraft"
                and c.status == 200
                and c.params.get("chat_id") == chat_id
                and (token is None or c.token == token)
            ]

    def wait_for(
        self, predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02
    ) -> bool:
        """Poll ``predicate`` from the calling thread until truthy or ``timeout`` elapses."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    async def async_wait_for(
        self, predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02
    ) -> bool:
        """Like `wait_for` but yields to the caller's event loop (for async tests)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ test helpers: control

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"`` = any) fail with this error.

        For 429 without parameters, ``{"retry_after": 1}`` is implied.
        """
        if status == 429 and parameters is None:
            parameters = {"retry_after": 1}
        if description is None:
            description = _default_description(status, parameters)
        with self._lock:
            self._faults.append(
                _Fault(method.lower(), status, description, parameters, max(count, 1))
            )

    def clear_faults(self) -> None:
        """Forget the failures `fail_next` queued that have not happened yet (outage over)."""
        with self._lock:
            self._faults.clear()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Updates pushed inside the block reach getUpdates as one batch: no poll can read
        the queue between two pushes (a real batch, as when users write at the same time)."""
        with self._lock:
            yield

    def hold_confirmations(self, above: int | None) -> None:
        """Hold every getUpdates whose offset confirms an update id >= ``above`` (None ends
        the hold): the call stays unanswered and confirms nothing, as if it never arrived."""
        self._hold_above = above

    def register(self, method: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Serve an extra method: ``handler(params)`` returns the result or raises ApiError.

        Runs on the server thread; may be a coroutine function.
        """
        self._custom[method.lower()] = handler

    def set_webhook_error(
        self, message: str, *, date: int | None = None, token: str | None = None
    ) -> None:
        """Make getWebhookInfo report a delivery error (``last_error_date/_message``)."""
        bot = self._require_bot(token)
        with self._lock:
            bot.webhook_error = (date if date is not None else int(time.time()), message)

    def webhook(self, *, token: str | None = None) -> dict[str, Any] | None:
        """The current webhook settings (url, secret_token, ...) or None."""
        bot = self._require_bot(token)
        with self._lock:
            return dict(bot.webhook) if bot.webhook else None

    def commands(
        self,
        scope: dict[str, Any] | None = None,
        language_code: str | None = None,
        *,
        token: str | None = None,
    ) -> list[dict[str, Any]]:
        """Commands stored by setMyCommands for a scope/language."""
        bot = self._require_bot(token)
        with self._lock:
            return copy.deepcopy(bot.commands.get(_scope_key(scope, language_code), []))

    def bot_user(self, *, token: str | None = None) -> dict[str, Any]:
        """The User object getMe returns for a token."""
        return dict(self._require_bot(token).user)

    def pending_updates(self, *, token: str | None = None) -> int:
        """Number of queued, not yet confirmed updates."""
        bot = self._require_bot(token)
        with self._lock:
            return len(bot.updates)

    @property
    def confirmed_offset(self) -> int:
        """Highest offset confirmed for the primary token (updates below it are gone)."""
        bot = self._require_bot(None)
        with self._lock:
            return bot.confirmed_offset

    @property
    def next_update_id(self) -> int:
        """The update_id the next pushed update will get."""
        with self._lock:
            return self._next_update_id


_BOT_COMMAND_RE = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}(?!\w)")


def _detect_entities(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for kind, pattern in (("bot_command", _BOT_COMMAND_RE), ("mention", _MENTION_RE)):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": _utf16_len(text[: match.start()]),
                    "length": _utf16_len(match.group(0)),
                }
            )
    found.sort(key=lambda e: e["offset"])
    return found


def _default_description(status: int, parameters: dict[str, Any] | None) -> str:
    if status == 429:
        retry = (parameters or {}).get("retry_after", 1)
        return f"Too Many Requests: retry after {retry}"
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(status, f"Error {status}")
