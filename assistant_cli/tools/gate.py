"""Before a tool runs: may this sender use it, and (with `confirm: true`) did they say yes?

Remembered decisions ("Allow in this chat", "Always") skip the question next time; every
decision asked for is an audit entry: who, which tool, a digest of the arguments.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from assistant_cli.config.models import ToolAllow
from assistant_cli.domain.events import ToolConfirmAsked, ToolConfirmed
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import ConfirmRequest
from assistant_cli.i18n import messages, translator
from assistant_cli.store.tool_calls import ApprovalStore
from assistant_cli.tools.policy import ToolPolicy

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.domain.events import EventBus

log = logging.getLogger("assistant_cli.tools")

ALLOWING = frozenset({"once", "chat", "always"})

# Told to the model (not the user) when a call does not run; English like every prompt.
DECLINED = "the user declined this tool call"
NO_CONFIRMATION = ("the user could not be asked to confirm this tool call in this chat, so it "
                   "was not run")
NOT_ALLOWED = "this sender is not allowed to use the tool {tool}"


class Auditor(Protocol):
    def append(self, action: str, target: str, outcome: str, *, actor: str | None = None,
               **detail: Any) -> int: ...


def arguments_digest(arguments: str) -> str:
    """A short SHA-256 of the arguments: the audit log proves what was allowed without
    keeping what may be private."""
    return hashlib.sha256(arguments.encode()).hexdigest()[:16]


def pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=1, ensure_ascii=False)
    except (ValueError, TypeError):
        return arguments


class ToolGate:
    """Applies the policy and asks for confirmation through the sender's channel."""

    def __init__(self, policy: ToolPolicy, approvals: ApprovalStore, events: EventBus,
                 audit: Auditor | None = None, *, confirm_timeout: float = 120.0) -> None:
        self.policy = policy
        self.approvals = approvals
        self.events = events
        self.audit = audit
        self.confirm_timeout = confirm_timeout

    async def check(self, tool: str, arguments: str, msg: InboundMessage, level: ToolAllow,
                    channel: Channel, waits: list[float] | None = None, *,
                    language: str = "en") -> str | None:
        """None when the call may run; otherwise the error text for the model. The question
        is asked in `language`; the time it waited for the user's answer is appended to
        `waits` (ms)."""
        if not self.policy.permits(tool, level):
            return NOT_ALLOWED.format(tool=tool)
        if not self.policy.rule_for(tool).confirm:
            return None
        if self.approvals.allowed(tool, msg.platform, msg.sender_id, msg.chat_id):
            return None
        if not channel.can_confirm:
            self._decided(tool, arguments, msg, "unavailable")
            return NO_CONFIRMATION
        shown = pretty(arguments)
        prompt = messages.tool_confirm_prompt(translator(language), tool, shown)
        request = ConfirmRequest(tool, shown, prompt, self.confirm_timeout, language)
        self.events.publish(ToolConfirmAsked(tool=tool, channel=msg.platform,
                                             sender=msg.sender_id))
        asked = time.monotonic()
        try:
            decision = await asyncio.wait_for(channel.confirm(msg, request),
                                              timeout=self.confirm_timeout + 5)
        except asyncio.TimeoutError:
            decision = None
        if waits is not None:
            waits.append((time.monotonic() - asked) * 1000)
        self._decided(tool, arguments, msg, decision or "timeout")
        if decision in ("chat", "always"):
            self.approvals.add(tool, msg.platform, msg.sender_id, msg.chat_id, decision)
        return None if decision in ALLOWING else DECLINED

    def _decided(self, tool: str, arguments: str, msg: InboundMessage, decision: str) -> None:
        actor = f"{msg.platform}:{msg.sender_id}"
        digest = arguments_digest(arguments)
        self.events.publish(ToolConfirmed(tool=tool, decision=decision, channel=msg.platform,
                                          sender=msg.sender_id))
        log.info("tool %s: %s by %s", tool, decision, actor, extra={
            "event": "tool.confirm", "fields": {"tool": tool, "decision": decision}})
        if self.audit is None:
            return
        try:
            self.audit.append("tool.confirm", tool, decision, actor=actor, chat=msg.chat_id,
                              arguments_sha256=digest)
        except Exception:  # the audit must not cost the user an answer; the log still says
            log.exception("could not audit the decision on %s", tool,
                          extra={"event": "tool.audit_failed"})
