"""The WhatsApp webhook endpoints on the gateway: the verification handshake and signed POSTs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("assistant_cli.channels.whatsapp")

WEBHOOK_PATH = "/webhooks/whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# Takes a decoded payload, returns the HTTP status to answer Meta with.
Deliver = Callable[[Any], Awaitable[int]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def signature(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends for `body`: "sha256=" + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _answer(status: int, error: str | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": status == 200}
    if error:
        body["error"] = error
    return web.json_response(body, status=status)


def make_verify_handler(verify_token: str) -> Handler:
    """GET /webhooks/whatsapp: echo hub.challenge when hub.verify_token matches, else 403."""
    expected = verify_token.encode()

    async def verify(request: web.Request) -> web.StreamResponse:
        mode = request.query.get("hub.mode", "")
        supplied = request.query.get("hub.verify_token", "").encode()
        challenge = request.query.get("hub.challenge", "")
        if mode == "subscribe" and hmac.compare_digest(supplied, expected) and challenge:
            log.info("whatsapp webhook verified", extra={"event": "whatsapp.webhook_verified"})
            return web.Response(text=challenge, content_type="text/plain")
        log.warning("whatsapp webhook verification refused (mode %r, token %s) from %s", mode,
                    "given" if supplied else "missing", request.remote,
                    extra={"event": "whatsapp.verify_denied"})
        return web.Response(status=403, text="verification failed", content_type="text/plain")

    return verify


def make_receive_handler(app_secret: str, deliver: Deliver) -> Handler:
    """POST /webhooks/whatsapp.

    413 over the gateway's body limit, 401 without a valid signature of the raw body, 400 for
    anything that is not JSON; otherwise whatever `deliver` says (200 once stored, 503 while
    the channel is not running, so that Meta keeps the payload and tries again).
    """

    async def receive(request: web.Request) -> web.StreamResponse:
        try:
            # read() enforces the app's client_max_size as it reads, so an endless body is
            # cut off at gateway.max_body_bytes instead of being buffered whole.
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("whatsapp webhook body over the gateway limit refused (%s bytes)",
                        request.content_length or "unknown",
                        extra={"event": "whatsapp.body_too_large"})
            return _answer(413, "body too large")
        supplied = request.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), signature(app_secret, body).encode()):
            log.warning("whatsapp webhook with a %s signature refused from %s",
                        "wrong" if supplied else "missing", request.remote,
                        extra={"event": "whatsapp.signature_denied"})
            return _answer(401, "bad signature")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            log.warning("whatsapp webhook body is not JSON (%d bytes); refused", len(body),
                        extra={"event": "whatsapp.malformed_payload"})
            return _answer(400, "body is not JSON")
        status = await deliver(data)
        return _answer(status, None if status == 200 else "not stored")

    return receive
