"""Loopback fake of the WhatsApp Cloud API (Graph) for one phone number.

`FakeGraph` serves `GET /{version}/{phone_number_id}` and `POST /{version}/{phone_number_id}/
messages` from a background thread: it checks the bearer token and the request bodies the
way Graph does (text at most 4096 characters, a template needs a name and a language code,
mark-as-read needs a wamid and takes `typing_indicator: {"type": "text"}`), records every
message and read receipt, answers scripted failures in Graph's error shape, and (when told
where) posts a signed "sent" and then a "delivered" status webhook for each message it
accepted, one webhook per status, as Meta does.

The webhook payload builders live in `whatsapp_payloads` and are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from tests.fakes.loop_thread import AiohttpFake
from tests.fakes.whatsapp_payloads import (
    ACCESS_TOKEN,
    API_VERSION,
    APP_SECRET,
    BUSINESS_ID,
    DISPLAY_NUMBER,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    envelope,
    failed_status,
    graph_error_body,
    image_payload,
    message_payload,
    new_wamid,
    post_webhook,
    sign,
    signed,
    status,
    text_payload,
)

__all__ = [
    "ACCESS_TOKEN", "API_VERSION", "APP_SECRET", "BUSINESS_ID", "DISPLAY_NUMBER",
    "PHONE_NUMBER_ID", "VERIFY_TOKEN", "FailLater", "FakeGraph", "Fault", "Read", "Sent",
    "envelope", "failed_status", "graph_error_body", "image_payload", "message_payload",
    "new_wamid", "post_webhook", "sign", "signed", "status", "text_payload",
]

def _interactive(part: Any) -> tuple[str, str]:
    """(problem, body text) of an interactive reply-button message, checked as the Cloud API
    documents it: a body of 1-1024 characters, 1-3 buttons with unique ids (≤ 256) and
    titles of 1-20 characters."""
    if not isinstance(part, dict) or part.get("type") != "button":
        return "(#100) Param interactive['type'] must be one of {button, list, ...}", ""
    text = str((part.get("body") or {}).get("text") or "")
    if not 1 <= len(text) <= 1024:
        return "(#100) Param interactive['body']['text'] must be 1-1024 characters", ""
    buttons = (part.get("action") or {}).get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "(#131009) Parameter value is not valid: buttons must be 1-3", ""
    ids = []
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            return "(#100) Param interactive['action']['buttons'][0]['type'] is invalid", ""
        if not 1 <= len(str(reply.get("title") or "")) <= 20:
            return "(#131009) Parameter value is not valid: button title length", ""
        if not 1 <= len(str(reply.get("id") or "")) <= 256:
            return "(#131009) Parameter value is not valid: button id length", ""
        ids.append(reply["id"])
    if len(set(ids)) != len(ids):
        return "(#131009) Parameter value is not valid: button ids must be unique", ""
    return "", text


BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")


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

    to: str  # the wa_id, or the BSUID for a user known only by one
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


def _invalid(message: str) -> web.Response:
    return web.json_response(graph_error_body(100, message), status=400)


class FakeGraph(AiohttpFake[Fault | FailLater, Any]):
    """The Graph API for one phone number, on 127.0.0.1 in a daemon thread."""

    def __init__(self, *, access_token: str = ACCESS_TOKEN,
                 phone_number_id: str = PHONE_NUMBER_ID,
                 display_phone_number: str = DISPLAY_NUMBER) -> None:
        super().__init__()
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        # Where to post status webhooks (our gateway's URL) and the secret to sign them with.
        self.webhook_url: str | None = None
        self.app_secret = APP_SECRET
        self._sent: list[Sent] = []
        self._reads: list[Read] = []
        self._attempts: list[float] = []  # every send request, refused or not
        self._webhooks: httpx.AsyncClient | None = None
        self._posting: set[asyncio.Task[None]] = set()

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
            found[:] = [s.text for s in fake._sent
                        if s.to == wa_id and s.type == "text" and regex.search(s.text)]
            return bool(found)

        return found[0] if self.wait_for(check, timeout) else None

    @property
    def base_url(self) -> str:
        return self.url

    # -- lifecycle ------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/{version}/{object_id}", self._get_object)
        app.router.add_post("/{version}/{object_id}/messages", self._post_message)

    async def _startup(self) -> int:
        # One client for every status webhook: a new one per post would cost more than the
        # post (it builds a TLS context) and slow down everything sharing this process.
        self._webhooks = httpx.AsyncClient(timeout=5)
        return await super()._startup()

    async def _shutdown(self) -> None:
        for task in list(self._posting):
            task.cancel()
        if self._webhooks is not None:
            await self._webhooks.aclose()
            self._webhooks = None
        await super()._shutdown()

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
            return _invalid("(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._mark_read(body)
        return self._send(body, time.time())

    def _mark_read(self, body: dict[str, Any]) -> web.Response:
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id.startswith("wamid."):
            return _invalid("(#100) Invalid parameter: message_id must be a received "
                            "message's wamid")
        typing = body.get("typing_indicator")
        if typing is not None and typing != {"type": "text"}:
            return _invalid("(#100) Param typing_indicator[type] must be one of {text}")
        with self._cond:
            self._reads.append(Read(message_id, typing is not None, time.time()))
            self._cond.notify_all()
        return web.json_response({"success": True})

    def _send(self, body: dict[str, Any], now: float) -> web.Response:
        kind = body.get("type", "text")
        # A wa_id goes in `to`; a user known only by a business-scoped id in `recipient`.
        to = body.get("to") or body.get("recipient")
        if not isinstance(to, str) or not to:
            return _invalid("(#100) The parameter to is required.")
        if "recipient" in body and "to" not in body and not BSUID.fullmatch(to):
            return _invalid("(#100) Param recipient must be a business-scoped user ID")
        if body.get("recipient_type", "individual") != "individual":
            return _invalid("(#100) Param recipient_type must be one of {individual, group}")
        if kind == "text":
            text = str((body.get("text") or {}).get("body", ""))
            if not text or len(text) > 4096:
                return _invalid("(#100) Param text['body'] must be at most 4096 characters "
                                "long." if text else "(#100) The parameter text['body'] is "
                                "required.")
        elif kind == "template":
            template = body.get("template") or {}
            text = str(template.get("name") or "")
            language = template.get("language")
            if not text:
                return _invalid("(#100) The parameter template['name'] is required.")
            if not isinstance(language, dict) or not language.get("code"):
                return _invalid("(#100) The parameter template['language']['code'] is "
                                "required.")
        elif kind == "interactive":
            problem, text = _interactive(body.get("interactive"))
            if problem:
                return _invalid(problem)
        else:
            return _invalid(f"(#100) Param type must be one of text, template, interactive "
                            f"(got {kind})")
        with self._cond:
            self._attempts.append(now)
            self._cond.notify_all()
        step = self._next()
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
            task = asyncio.get_running_loop().create_task(self._post_statuses(statuses))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)
        contact = {"input": to, "user_id" if "to" not in body else "wa_id": to}
        accepted: dict[str, Any] = {"id": wamid}
        if kind == "template":
            accepted["message_status"] = "accepted"
        return web.json_response({"messaging_product": "whatsapp", "contacts": [contact],
                                  "messages": [accepted]})

    async def _post_statuses(self, statuses: list[dict[str, Any]]) -> None:
        assert self.webhook_url is not None and self._webhooks is not None
        for item in statuses:  # one webhook per status, in order, as Meta sends them
            raw, headers = signed(envelope(self.phone_number_id, statuses=[item]),
                                  self.app_secret)
            with contextlib.suppress(httpx.HTTPError):
                await self._webhooks.post(self.webhook_url, content=raw, headers=headers)
