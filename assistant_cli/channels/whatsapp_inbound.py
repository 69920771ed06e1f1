"""Reading WhatsApp webhook payloads: messages into InboundMessage, statuses into DeliveryStatus.

A payload is `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {...}}]}]}`; one value carries the receiving number's metadata and
any number of `messages`, `statuses` and `errors` (problems Meta reports that belong to no
single message). A sender is their `from` (wa_id, the number in digits) or, when they hide
the number behind a username, their `from_user_id` (a business-scoped user id such as
"US.13491208655302741918"). Parsing is tolerant: one odd item is skipped and counted,
never a reason to refuse (and so make Meta redeliver) the whole payload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.delivery import DeliveryStatus

log = logging.getLogger("assistant_cli.channels.whatsapp")

OBJECT = "whatsapp_business_account"
# Not questions for the assistant: emoji reactions to a message, and notices such as
# "the customer changed their number".
SKIPPED_TYPES = frozenset({"reaction", "system", "ephemeral", "request_welcome"})
CAPTIONED = ("image", "video", "document")


@dataclass(frozen=True)
class WebhookError:
    """One entry of a value's `errors`: Meta reporting a problem with the account or app."""

    code: int | None
    title: str


class PayloadError(ValueError):
    """The JSON is not a WhatsApp Business Account webhook at all."""


@dataclass
class WebhookBatch:
    """What one webhook call brought for our number, and what was left out."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[DeliveryStatus] = field(default_factory=list)
    errors: list[WebhookError] = field(default_factory=list)
    foreign: set[str] = field(default_factory=set)  # other phone_number_ids, ignored
    skipped: int = 0  # reactions, system notices, malformed items


def parse_payload(data: Any, phone_number_id: str) -> WebhookBatch:
    """Everything addressed to `phone_number_id`; raises PayloadError for a non-webhook."""
    if not isinstance(data, dict) or data.get("object") != OBJECT:
        raise PayloadError("not a WhatsApp Business Account webhook")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("webhook without an entry list")
    batch = WebhookBatch()
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue  # template reviews, account updates ...: nothing to answer
            value = change.get("value")
            if isinstance(value, dict):
                _read_value(value, phone_number_id, batch)
    return batch


def _read_value(value: dict[str, Any], phone_number_id: str, batch: WebhookBatch) -> None:
    metadata = value.get("metadata")
    target = str(metadata.get("phone_number_id", "")) if isinstance(metadata, dict) else ""
    if target != phone_number_id:
        batch.foreign.add(target or "(none)")
        return
    names: dict[str, str] = {}
    for contact in _items(value.get("contacts")):
        profile = contact.get("profile")
        who = contact.get("wa_id") or contact.get("user_id")
        if isinstance(profile, dict) and who:
            names[str(who)] = str(profile.get("name") or "")
    for item in _items(value.get("messages")):
        msg = _message(item, names, phone_number_id)
        if msg is None:
            batch.skipped += 1
        else:
            batch.messages.append(msg)
    for item in _items(value.get("statuses")):
        status = _status(item)
        if status is None:
            batch.skipped += 1
        else:
            batch.statuses.append(status)
    for item in _items(value.get("errors")):
        code, title = _error(item)
        batch.errors.append(WebhookError(code, title))


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _message(item: dict[str, Any], names: dict[str, str],
             phone_number_id: str) -> InboundMessage | None:
    wamid, kind = item.get("id"), item.get("type")
    sender = item.get("from") or item.get("from_user_id")
    if not isinstance(wamid, str) or not wamid or not isinstance(sender, str) or not sender:
        log.warning("whatsapp message without id or sender skipped",
                    extra={"event": "whatsapp.malformed_message"})
        return None
    if not isinstance(kind, str) or not kind:
        kind = "unsupported"
    if kind in SKIPPED_TYPES:
        log.info("whatsapp %s from %s not answered", kind, sender,
                 extra={"event": "whatsapp.skipped", "fields": {"type": kind}})
        return None
    text, reply_id = "", ""
    if kind == "text":
        text = _text(item, "text", "body")
    elif kind == "button":  # a quick-reply button under one of our templates
        kind, text = "text", _text(item, "button", "text")
    elif kind == "interactive":
        reply = item.get("interactive")
        reply = reply if isinstance(reply, dict) else {}
        chosen = reply.get("button_reply") or reply.get("list_reply")
        if isinstance(chosen, dict) and chosen.get("title"):
            kind, text = "text", str(chosen["title"])
            reply_id = str(chosen.get("id") or "")
    elif kind in CAPTIONED:
        text = _text(item, kind, "caption")
    if kind == "text" and not text.strip():
        kind = "unsupported"
    return InboundMessage(
        platform="whatsapp", external_id=wamid, chat_id=sender, sender_id=sender,
        sender_name=names.get(sender, ""), text=text, kind=kind,
        meta={"phone_number_id": phone_number_id, "timestamp": str(item.get("timestamp", "")),
              "type": str(item.get("type", "")), **({"reply_id": reply_id} if reply_id else {})},
    )


def _text(item: dict[str, Any], key: str, field_name: str) -> str:
    part = item.get(key)
    return str(part.get(field_name) or "") if isinstance(part, dict) else ""


def _status(item: dict[str, Any]) -> DeliveryStatus | None:
    message_id, status = item.get("id"), item.get("status")
    if not isinstance(message_id, str) or not isinstance(status, str):
        return None
    try:
        stamp = float(item.get("timestamp") or 0)
    except (TypeError, ValueError):
        stamp = 0.0
    code: int | None = None
    title: str | None = None
    errors = _items(item.get("errors"))
    if errors:
        code, title = _error(errors[0])
    recipient = item.get("recipient_id") or item.get("recipient_user_id") or ""
    return DeliveryStatus(platform="whatsapp", message_id=message_id, status=status,
                          recipient_id=str(recipient), status_at=stamp,
                          error_code=code, error_title=title)


def _error(item: dict[str, Any]) -> tuple[int | None, str]:
    """Code and "title: details" of one error object."""
    raw = item.get("code")
    code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    data = item.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    title = str(item.get("title") or item.get("message") or "")
    if details:
        title = f"{title}: {details}" if title else str(details)
    return code, title
