"""Loopback fake of the WhatsApp Cloud API (Graph), plus signed webhook payloads for our gateway.

`FakeGraph` serves `GET /{version}/{phone_number_id}` and `POST /{version}/{phone_number_id}/
messages` from a background thread, checks the bearer token, records every message and read
receipt, answers scripted failures in Graph's error shape, and (when told where) posts
"sent"/"delivered" status webhooks back, signed with the app secret, as Meta does.

The module-level helpers build webhook payloads as Meta documents them, sign them, and POST
them to a gateway.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

PHONE_NUMBER_ID = "106540352242922"
BUSINESS_ID = "102290129340398"
DISPLAY_NUMBER = "+1 555-010-0000"
ACCESS_TOKEN = "EAAGtestaccesstoken0123456789"
APP_SECRET = "fake-app-secret-0123456789"
VERIFY_TOKEN = "fake-verify-token-42"
API_VERSION = "v21.0"


def graph_error_body(code: int, message: str, *, type: str = "OAuthException",
                     subcode: int | None = None, details: str | None = None) -> dict[str, Any]:
    """An error body shaped like the Graph API's."""
    error: dict[str, Any] = {"message": message, "type": type, "code": code,
                             "fbtrace_id": "A" + secrets.token_hex(10)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


@dataclass(frozen=True)
class Fault:
    """Answer the next message send with this Graph error instead of sending."""

    status: int
    code: int
    message: str
    details: str | None = None
    subcode: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return graph_error_body(self.code, self.message, subcode=self.subcode,
                                details=self.details)

    @classmethod
    def window_closed(cls) -> Fault:
        return cls(400, 131047, "(#131047) Re-engagement message",
                   "Message failed to send because more than 24 hours have passed since the "
                   "customer last replied to this number.")

    @classmethod
    def rate_limited(cls) -> Fault:
        return cls(400, 130429, "(#130429) Rate limit hit",
                   "Cloud API message throughput has been reached.")

    @classmethod
    def pair_rate_limited(cls) -> Fault:
        return cls(400, 131056, "(#131056) (Business Account, Consumer Account) pair rate "
                   "limit hit", "Message failed to send because there were too many messages "
                   "sent from this phone number to the same phone number in a short period.")

    @classmethod
    def token_expired(cls) -> Fault:
        return cls(401, 190, "Error validating access token: Session has expired on Tuesday, "
                   "01-Jan-30 00:00:00 PST.", subcode=463)


@dataclass(frozen=True)
class FailLater:
    """Accept the next send (200 with a wamid), then report it failed in a status webhook."""

    code: int = 131047
    title: str = "Re-engagement message"


@dataclass(frozen=True)
class Sent:
    """One message the fake accepted."""

    to: str
    type: str  # text or template
    text: str  # text body, or the template name
    wamid: str
    body: dict[str, Any]
    at: float


@dataclass(frozen=True)
class Read:
    """One mark-as-read call."""

    message_id: str
    typing: bool
    at: float


def new_wamid() -> str:
    raw = b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)
    return "wamid." + base64.b64encode(raw).decode()


class FakeGraph:
    """The Graph API for one phone number, on 127.0.0.1 in a daemon thread."""

    def __init__(self, *, access_token: str = ACCESS_TOKEN,
                 phone_number_id: str = PHONE_NUMBER_ID,
                 display_phone_number: str = DISPLAY_NUMBER) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.script: collections.deque[Fault | FailLater] = collections.deque()
        # Where to post status webhooks (our gateway's URL) and the secret to sign them with.
        self.webhook_url: str | None = None
        self.app_secret = APP_SECRET
        self._sent: list[Sent] = []
        self._reads: list[Read] = []
        self._attempts: list[float] = []  # every send request, refused or not
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- records ------------------------------------------------------------------------
    @property
    def sent(self) -> list[Sent]:
        with self._cond:
            return list(self._sent)

    @property
    def reads(self) -> list[Read]:
        with self._cond:
            return list(self._reads)

    @property
    def attempts(self) -> list[float]:
        """Arrival times of every send request, including the ones answered with a fault."""
        with self._cond:
            return list(self._attempts)

    def texts_to(self, wa_id: str) -> list[str]:
        return [s.text for s in self.sent if s.to == wa_id and s.type == "text"]

    def wait_for(self, check: Callable[[FakeGraph], bool], timeout: float = 5.0) -> bool:
        """Block until `check(self)` is true; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: check(self), timeout)

    def wait_for_text(self, wa_id: str, pattern: str, timeout: float = 5.0) -> str | None:
        """The first text to `wa_id` matching the regex, waiting up to `timeout` for it."""
        regex = re.compile(pattern)
        found: list[str] = []

        def check(fake: FakeGraph) -> bool:
            found[:] = [t for t in fake._texts_unlocked(wa_id) if regex.search(t)]
            return bool(found)

        return found[0] if self.wait_for(check, timeout) else None

    def _texts_unlocked(self, wa_id: str) -> list[str]:
        return [s.text for s in self._sent if s.to == wa_id and s.type == "text"]

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeGraph:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="FakeGraph", daemon=True)
        thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._startup(), loop).result(10)
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _startup(self) -> int:
        app = web.Application()
        app.router.add_get("/{version}/{object_id}", self._get_object)
        app.router.add_post("/{version}/{object_id}/messages", self._post_message)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers ---------------------------------------------------------------------------
    def _denied(self, request: web.Request) -> web.Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token == self.access_token:
            return None
        message = ("An active access token must be used to query information about the "
                   "current user." if not token else
                   "Invalid OAuth access token - Cannot parse access token")
        return web.json_response(graph_error_body(190, message), status=401)

    def _unknown_object(self, object_id: str) -> web.Response:
        return web.json_response(graph_error_body(
            100, f"Unsupported get request. Object with ID '{object_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation.",
            type="GraphMethodException", subcode=33), status=400)

    async def _get_object(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        object_id = request.match_info["object_id"]
        if object_id != self.phone_number_id:
            return self._unknown_object(object_id)
        return web.json_response({
            "verified_name": "Fake Assistant Inc", "code_verification_status": "VERIFIED",
            "display_phone_number": self.display_phone_number, "quality_rating": "GREEN",
            "platform_type": "CLOUD_API", "id": self.phone_number_id})

    async def _post_message(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        if request.match_info["object_id"] != self.phone_number_id:
            return self._unknown_object(request.match_info["object_id"])
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return web.json_response(graph_error_body(
                100, "(#100) The parameter messaging_product is required."), status=400)
        now = time.time()
        if body.get("status") == "read":
            with self._cond:
                self._reads.append(Read(str(body.get("message_id")),
                                        body.get("typing_indicator") == {"type": "text"}, now))
                self._cond.notify_all()
            return web.json_response({"success": True})
        return self._send(body, now)

    def _send(self, body: dict[str, Any], now: float) -> web.Response:
        kind, to = body.get("type"), str(body.get("to", ""))
        if kind == "text":
            text = str((body.get("text") or {}).get("body", ""))
            if not text or len(text) > 4096:
                return web.json_response(graph_error_body(
                    100, "(#100) Param text['body'] must be at most 4096 characters long."
                    if text else "(#100) The parameter text['body'] is required."), status=400)
        elif kind == "template":
            text = str((body.get("template") or {}).get("name", ""))
        else:
            return web.json_response(graph_error_body(
                100, f"(#100) Param type must be one of text, template (got {kind})"),
                status=400)
        with self._cond:
            self._attempts.append(now)
            self._cond.notify_all()
        step = self.script.popleft() if self.script else None
        if isinstance(step, Fault):
            return web.json_response(step.body(), status=step.status, headers=step.headers)
        wamid = new_wamid()
        with self._cond:
            self._sent.append(Sent(to, str(kind), text, wamid, body, now))
            self._cond.notify_all()
        if self.webhook_url is not None:
            statuses = ([failed_status(wamid, to, step.code, step.title)]
                        if isinstance(step, FailLater) else
                        [status(wamid, to, "sent"), status(wamid, to, "delivered")])
            asyncio.get_running_loop().create_task(self._post_statuses(statuses))
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": wamid}]})

    async def _post_statuses(self, statuses: list[dict[str, Any]]) -> None:
        assert self.webhook_url is not None
        raw, headers = signed(envelope(self.phone_number_id, statuses=statuses),
                              self.app_secret)
        async with httpx.AsyncClient(timeout=5) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(self.webhook_url, content=raw, headers=headers)


# -- webhook payloads, as Meta sends them ------------------------------------------------------

def envelope(phone_number_id: str = PHONE_NUMBER_ID, *,
             messages: Sequence[dict[str, Any]] = (), statuses: Sequence[dict[str, Any]] = (),
             contacts: Sequence[dict[str, Any]] = (), business_id: str = BUSINESS_ID,
             display_phone_number: str = DISPLAY_NUMBER) -> dict[str, Any]:
    """A webhook body with one change for `phone_number_id`."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": _digits(display_phone_number),
                     "phone_number_id": phone_number_id}}
    if contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": business_id, "changes": [{"value": value, "field": "messages"}]}]}


def message_payload(wa_id: str, message: dict[str, Any], *, name: str = "Stranger",
                    phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """A webhook carrying one message from `wa_id`; `message` holds type and its part."""
    item = {"from": wa_id, "id": message.pop("id", None) or new_wamid(),
            "timestamp": str(int(time.time())), **message}
    return envelope(phone_number_id, messages=[item],
                    contacts=[{"profile": {"name": name}, "wa_id": wa_id}])


def text_payload(wa_id: str, text: str, *, wamid: str | None = None, name: str = "Stranger",
                 phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    return message_payload(wa_id, {"id": wamid, "type": "text", "text": {"body": text}},
                           name=name, phone_number_id=phone_number_id)


def image_payload(wa_id: str, caption: str | None = None, *,
                  wamid: str | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {"mime_type": "image/jpeg", "sha256": secrets.token_hex(32),
                             "id": str(secrets.randbelow(10**15))}
    if caption is not None:
        image["caption"] = caption
    return message_payload(wa_id, {"id": wamid, "type": "image", "image": image})


def status(wamid: str, recipient: str, state: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(int(time.time())),
                            "recipient_id": recipient}
    if state == "sent":
        item["conversation"] = {"id": secrets.token_hex(16),
                                "origin": {"type": "service"}}
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    return item


def failed_status(wamid: str, recipient: str, code: int, title: str) -> dict[str, Any]:
    item = status(wamid, recipient, "failed")
    item["errors"] = [{"code": code, "title": title, "message": title,
                       "error_data": {"details": f"Message failed with error {code}."}}]
    return item


def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(payload: Any, app_secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Meta would send for `payload`."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, app_secret),
                 "User-Agent": "facebookexternalua"}


def post_webhook(url: str, payload: Any, app_secret: str | None = APP_SECRET, *,
                 signature: str | None = None, timeout: float = 5.0) -> httpx.Response:
    """POST a payload (dict or raw bytes) to our webhook, signed unless told otherwise."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif app_secret is not None:
        headers["X-Hub-Signature-256"] = sign(raw, app_secret)
    return httpx.post(url, content=raw, headers=headers, timeout=timeout)


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)
