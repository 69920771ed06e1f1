"""Building a TurnRunner with tools against the fake OpenAI server, and a channel that
records what it would have shown and answers confirmations as told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from assistant_cli.channels.base import Channel, InboundSink
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import Config
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboundMessage, InboxItem
from assistant_cli.domain.tools import ConfirmRequest, StatusNote
from assistant_cli.engine.language import SenderLanguages
from assistant_cli.engine.tool_loop import ToolLoop
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.tool_calls import ApprovalStore, MemoryStore, ToolCallLog
from assistant_cli.tools.base import Tool
from assistant_cli.tools.executor import ToolExecutor
from assistant_cli.tools.gate import ToolGate
from assistant_cli.tools.policy import ToolPolicy
from assistant_cli.tools.registry import ToolRegistry


class ToolChannel(Channel):
    """Records answers and status notes; answers confirmations from `decisions`."""

    platform = "test"
    shows_status = True
    can_confirm = True

    def __init__(self, decisions: list[str | None] | None = None) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]  # no config, no context
        self.replies: list[str] = []
        self.statuses: list[str] = []
        self.sent: list[str] = []
        self.asked: list[ConfirmRequest] = []
        self.decisions = list(decisions or [])

    async def start(self, sink: InboundSink) -> None:
        self.ready = True

    async def stop(self) -> None:
        self.ready = False

    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        text: list[str] = []
        async for d in deltas:
            (self.statuses if isinstance(d, StatusNote) else text).append(d)
        self.replies.append("".join(text))

    async def send(self, chat_id: str, text: str) -> None:
        self.sent.append(text)

    async def confirm(self, msg: InboundMessage, request: ConfirmRequest) -> str | None:
        self.asked.append(request)
        return self.decisions.pop(0) if self.decisions else None


@dataclass
class Rig:
    """A runner, its stores and events, for one test."""

    db: Database
    runner: TurnRunner
    inbox: Inbox
    calls: ToolCallLog
    approvals: ApprovalStore
    events: EventBus
    audit: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)

    async def item(self, text: str, ext: str = "1", sender: str = "u",
             language_code: str | None = None) -> InboxItem:
        meta = {"language_code": language_code} if language_code else {}
        msg = InboundMessage(platform="test", external_id=ext, chat_id="c1",
                             sender_id=sender, text=text, meta=meta)
        assert await self.inbox.add(msg) is not None
        claimed = await self.inbox.claim()
        assert claimed is not None
        return claimed


class ListAudit:
    def __init__(self, entries: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        self.entries = entries

    def append(self, action: str, target: str, outcome: str, *, actor: str | None = None,
               **detail: Any) -> int:
        self.entries.append((action, target, outcome, {"actor": actor, **detail}))
        return len(self.entries)


def tools_config(url: str, extra: str = "", kind: str = "openai") -> Config:
    text = (f"providers:\n  fake: {{kind: {kind}, base_url: '{url}', model: fake-model,"
            " api_key: env:K}\n"
            "assistant:\n  system_prompt: sys\n"
            "tools:\n  max_steps: 3\n  timeout: 0.5s\n  max_result_chars: 200\n"
            "  policy:\n    default: {allow: anyone, confirm: false}\n" + extra)
    return validate_document(parse_document(text, "c"), "c")


def build_rig(db: Database, config: Config, tools: list[Tool], *, level: str = "owner",
              memory: MemoryStore | None = None) -> Rig:
    events = EventBus()
    router = ProviderRouter(config, lambda r, w: "sk-test-key", events, base_delay=0.01)
    registry = ToolRegistry()
    for t in tools:
        registry.add(t)
    inbox, calls, approvals = Inbox(db), ToolCallLog(db), ApprovalStore(db)
    audit: list[tuple[str, str, str, dict[str, Any]]] = []
    gate = ToolGate(ToolPolicy(config.tools.policy), approvals, events, ListAudit(audit),
                    confirm_timeout=config.tools.confirm_timeout)
    executor = ToolExecutor(registry, events, timeout=config.tools.timeout,
                            max_result_chars=config.tools.max_result_chars)
    loop = ToolLoop(registry, executor, gate, calls, config.tools,
                    lambda msg: level,  # type: ignore[arg-type,return-value]
                    memory=memory)
    runner = TurnRunner(inbox, History(db), router, config.assistant, events, tools=loop,
                        languages=SenderLanguages(None))  # the platform's hint decides
    return Rig(db, runner, inbox, calls, approvals, events, audit)
