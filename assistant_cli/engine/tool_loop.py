"""The model ↔ tools rounds of one answer, recorded so that a crash never runs a tool twice.

Each round: the model streams text and maybe tool calls; the calls are written to the
state database (`requested`) before any runs, each is marked `running`, then its result is
written — all before the next model call. A turn that starts again after a crash rebuilds
the rounds from these records: a recorded result is reused, a call never started is run
now, and a call found `running` (the crash hit while the tool itself ran) is not run again:
the model is told its effect is unknown. After `max_steps` rounds the model answers once
more without tools, and the user gets that answer with a note.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from assistant_cli.config.models import ToolAllow, ToolsConfig
from assistant_cli.domain.messages import ChatTurn, InboundMessage, InboxItem
from assistant_cli.domain.tools import (
    StatusNote,
    ToolCall,
    ToolCallRequested,
    ToolResult,
    ToolSpec,
)
from assistant_cli.i18n import messages, translator
from assistant_cli.providers.base import ChatRequest, StreamEvent, TextDelta
from assistant_cli.store.tool_calls import INTERRUPTED, MemoryStore, RecordedCall, ToolCallLog
from assistant_cli.tools.base import Caller
from assistant_cli.tools.executor import ToolExecutor
from assistant_cli.tools.gate import ToolGate
from assistant_cli.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.store.pairing import PairingStore

log = logging.getLogger("assistant_cli.engine")

Model = Callable[[ChatRequest], AsyncIterator[StreamEvent]]
SenderLevel = Callable[[InboundMessage], ToolAllow]


def sender_level(platforms: dict[str, Any], pairing: PairingStore) -> SenderLevel:
    """Owner: the terminal or a sender in the platform's allow_from; paired: approved by
    pairing; anyone else: anyone."""

    def level(msg: InboundMessage) -> ToolAllow:
        if msg.platform == "console":
            return "owner"
        cfg = platforms.get(msg.platform)
        if cfg is not None and msg.sender_id in getattr(cfg, "allow_from", []):
            return "owner"
        if pairing.is_approved(msg.platform, msg.sender_id):
            return "paired"
        return "anyone"

    return level


class ToolLoop:
    """Runs the rounds of one answer; yields the text (and status notes) to show."""

    def __init__(self, registry: ToolRegistry, executor: ToolExecutor, gate: ToolGate,
                 calls: ToolCallLog, config: ToolsConfig, level: SenderLevel,
                 memory: MemoryStore | None = None) -> None:
        self.registry = registry
        self.executor = executor
        self.gate = gate
        self.calls = calls
        self.config = config
        self.level = level
        self.memory = memory

    def forget(self, sender: str) -> None:
        """`/reset`: the built-in memory of this sender goes too."""
        if self.memory is not None:
            self.memory.forget(sender)

    def offered(self, msg: InboundMessage) -> tuple[ToolSpec, ...]:
        """The tools this sender may trigger (others are not even shown to the model)."""
        level = self.level(msg)
        names = [t.name for t in self.registry.all() if self.gate.policy.permits(t.name, level)]
        return self.registry.specs(names)

    async def run(self, item: InboxItem, channel: Channel, turns: list[ChatTurn],
                  model: Model, parts: list[str], waits: list[float] | None = None, *,
                  lang: str = "en") -> AsyncIterator[str]:
        """Stream the answer into `parts` (the text to record) and yield what to show;
        `waits` gets the time (ms) spent in tools and waiting for confirmations. What the
        user reads about tools is in `lang`, the sender's language."""
        waits = waits if waits is not None else []
        specs = self.offered(item.message)
        step = 0
        for step, recorded in itertools.groupby(self.calls.for_inbox(item.id),
                                                key=lambda r: r.step):
            async for shown in self._replay(item, channel, turns, list(recorded), parts,
                                            waits, lang):
                yield shown
            step += 1
        while True:
            final = step >= self.config.max_steps
            request = ChatRequest(tuple(turns), tools=() if final or not specs else specs)
            text: list[str] = []
            calls: list[ToolCall] = []
            async for event in model(request):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    parts.append(event.text)
                    yield event.text
                elif isinstance(event, ToolCallRequested):
                    calls.append(event.call)
            if final and step > 0:
                note = messages.tool_max_steps(translator(lang), step)
                parts.append(note)
                yield note
            if final or not calls:
                return
            said = "".join(text)
            self.calls.record_requested(item.id, step, said, calls)
            turns.append(ChatTurn("assistant", said, tool_calls=tuple(calls)))
            for seq, call in enumerate(calls):
                async for shown in self._call(item, channel, turns, step, seq, call, waits,
                                              lang):
                    yield shown
            step += 1

    async def _replay(self, item: InboxItem, channel: Channel, turns: list[ChatTurn],
                      recorded: list[RecordedCall], parts: list[str], waits: list[float],
                      lang: str) -> AsyncIterator[str]:
        """Rebuild one recorded round; only calls that never started are run now."""
        said = recorded[0].assistant_text
        if said:
            parts.append(said)
            yield said
        turns.append(ChatTurn("assistant", said, tool_calls=tuple(r.call for r in recorded)))
        for r in recorded:
            if r.result is not None:
                turns.append(_tool_turn(r.result))
            elif r.status == "running":
                result = ToolResult(r.call.call_id, r.call.name, f"error: {INTERRUPTED}", True)
                self.calls.record_result(item.id, r.step, r.seq, result, "error", 0.0)
                turns.append(_tool_turn(result))
            else:
                async for shown in self._call(item, channel, turns, r.step, r.seq, r.call,
                                              waits, lang):
                    yield shown

    async def _call(self, item: InboxItem, channel: Channel, turns: list[ChatTurn], step: int,
                    seq: int, call: ToolCall, waits: list[float], lang: str
                    ) -> AsyncIterator[str]:
        msg = item.message
        tool = self.registry.get(call.name)
        name = tool.name if tool is not None else call.name
        refusal = None
        if tool is not None:
            refusal = await self.gate.check(name, call.arguments, msg, self.level(msg), channel,
                                            waits, language=lang)
        if refusal is not None:
            result = ToolResult(call.call_id, name, f"error: {refusal}", True)
            self.calls.record_result(item.id, step, seq, result, "declined", 0.0)
            turns.append(_tool_turn(result))
            return
        if channel.shows_status:
            yield StatusNote(messages.tool_using(translator(lang), name))
        self.calls.mark_running(item.id, step, seq)
        done = await self.executor.run(call, Caller(msg.platform, msg.sender_id, msg.chat_id))
        waits.append(done.tool_ms)
        self.calls.record_result(item.id, step, seq, done.result,
                                 "done" if done.outcome == "ok" else "error", done.duration_ms)
        turns.append(_tool_turn(done.result))


def _tool_turn(result: ToolResult) -> ChatTurn:
    return ChatTurn("tool", result.content, tool_call_id=result.call_id, tool_name=result.name)
