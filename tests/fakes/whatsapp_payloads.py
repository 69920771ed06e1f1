"""WhatsApp webhook payloads as Meta documents them, signed like Meta signs them.

Shapes follow Meta's "messages" webhook reference: one `entry` per business account, one
`change` (field `messages`) whose `value` carries the receiving number's `metadata` and any
of `contacts` + `messages` (from users), `statuses` (of our messages: sent, delivered,
read, failed with an `errors` list) or `errors` (problems not tied to one message). Since
2026 a user may hide their number behind a username: the message then has `from_user_id`
(a business-scoped user id, BSUID, like "US.13491208655302741918") and no `from`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any

import httpx

PHONE_NUMBER_ID = "106540352242922"
BUSINESS_ID = "102290129340398"
DISPLAY_NUMBER = "+1 555-010-0000"
ACCESS_TOKEN = "EAAGtestaccesstoken0123456789"
APP_SECRET = "fake-app-secret-0123456789"
VERIFY_TOKEN = "fake-verify-token-42"
API_VERSION = "v21.0"
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def new_wamid() -> str:
    raw = b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)
    return "wamid." + base64.b64encode(raw).decode()


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


def envelope(phone_number_id: str = PHONE_NUMBER_ID, *,
             messages: Sequence[dict[str, Any]] = (), statuses: Sequence[dict[str, Any]] = (),
             contacts: Sequence[dict[str, Any]] = (), errors: Sequence[dict[str, Any]] = (),
             business_id: str = BUSINESS_ID,
             display_phone_number: str = DISPLAY_NUMBER) -> dict[str, Any]:
    """A webhook body with one change for `phone_number_id`."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": _digits(display_phone_number),
                     "phone_number_id": phone_number_id}}
    for key, items in (("contacts", contacts), ("messages", messages),
                       ("statuses", statuses), ("errors", errors)):
        if items:
            value[key] = list(items)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": business_id, "changes": [{"value": value, "field": "messages"}]}]}


def message_payload(wa_id: str | None, message: dict[str, Any], *, name: str = "Stranger",
                    user_id: str | None = None,
                    phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """A webhook carrying one message; `message` holds type and its part.

    `wa_id` None is a user whose number is hidden behind a username: only `user_id`
    (their BSUID) identifies them.
    """
    item: dict[str, Any] = {"id": message.pop("id", None) or new_wamid(),
                            "timestamp": str(int(time.time())), **message}
    contact: dict[str, Any] = {"profile": {"name": name}}
    if wa_id is not None:
        item["from"] = contact["wa_id"] = wa_id
    if user_id is not None:
        item["from_user_id"] = contact["user_id"] = user_id
    return envelope(phone_number_id, messages=[item], contacts=[contact])


def text_payload(wa_id: str | None, text: str, *, wamid: str | None = None,
                 name: str = "Stranger", user_id: str | None = None,
                 phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    return message_payload(wa_id, {"id": wamid, "type": "text", "text": {"body": text}},
                           name=name, user_id=user_id, phone_number_id=phone_number_id)


def button_reply_payload(wa_id: str, button_id: str, title: str, *, context: str = "",
                         name: str = "Stranger") -> dict[str, Any]:
    """A press on a reply button under one of our interactive messages (`context`: its
    wamid), as the webhook delivers it."""
    message: dict[str, Any] = {"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": button_id, "title": title}}}
    if context:
        message["context"] = {"from": "15550001111", "id": context}
    return message_payload(wa_id, message, name=name)


def image_payload(wa_id: str, caption: str | None = None, *,
                  wamid: str | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {"mime_type": "image/jpeg", "sha256": secrets.token_hex(32),
                             "id": str(secrets.randbelow(10**15))}
    if caption is not None:
        image["caption"] = caption
    return message_payload(wa_id, {"id": wamid, "type": "image", "image": image})


def status(wamid: str, recipient: str, state: str) -> dict[str, Any]:
    """One entry of `statuses`; a BSUID recipient goes in `recipient_user_id`."""
    item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(int(time.time()))}
    item["recipient_user_id" if _is_bsuid(recipient) else "recipient_id"] = recipient
    if state == "sent":
        item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    return item


def error_item(code: int, title: str, details: str) -> dict[str, Any]:
    """One entry of an `errors` list (in a failed status, or at the top of a value)."""
    return {"code": code, "title": title, "message": title,
            "error_data": {"details": details}, "href": ERROR_CODES_URL}


def failed_status(wamid: str, recipient: str, code: int, title: str) -> dict[str, Any]:
    item = status(wamid, recipient, "failed")
    item["errors"] = [error_item(code, title, f"Message failed with error {code}.")]
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


def _is_bsuid(user: str) -> bool:
    return re.fullmatch(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]+", user) is not None
