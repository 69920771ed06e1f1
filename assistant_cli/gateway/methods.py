"""What a gateway client can ask for: status, metrics, pairing, logs, providers.

Methods that change something (pairing.approve, pairing.deny) are recorded in the audit
log with the token's subject as the actor (`token:SUB`), successes and refusals alike.

observability.logview (rich) is imported inside functions: only `logs.tail` reads logs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant_cli import __version__
from assistant_cli.domain.events import PairingDenied
from assistant_cli.errors import PairingError, UsageError
from assistant_cli.gateway.protocol import PROTOCOL_VERSION, ProtocolError

if TYPE_CHECKING:
    from assistant_cli.domain.events import EventBus
    from assistant_cli.observability.serve_metrics import ServeMetrics
    from assistant_cli.providers.router import ProviderRouter
    from assistant_cli.store.audit import AuditLog
    from assistant_cli.store.pairing import PairingStore

MAX_LOG_LINES = 1000


@dataclass
class Services:
    """The parts of `serve` the gateway reads and steers."""

    engine: Any  # assistant_cli.engine.core.Engine (not imported: it pulls in the pipeline)
    router: ProviderRouter
    pairing: PairingStore
    audit: AuditLog
    events: EventBus
    metrics: ServeMetrics
    log_file: Path
    gateway_url: Callable[[], str]
    clients: Callable[[], int]
    expose_text: bool = False
    started_at: float = 0.0


Handler = Callable[[dict[str, Any], dict[str, Any]], Awaitable[Any]]


def _text(params: dict[str, Any], name: str, *, max_len: int = 64) -> str:
    value = params.get(name)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ProtocolError("bad_params", f"`{name}` is required (a string)")
    text = str(value).strip()
    if len(text) > max_len:
        raise ProtocolError("bad_params", f"`{name}` is longer than {max_len} characters")
    return text


class Methods:
    """Dispatches requests by method name."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.table: dict[str, Handler] = {
            "status": self.status,
            "metrics.snapshot": self.metrics_snapshot,
            "providers.status": self.providers_status,
            "pairing.list": self.pairing_list,
            "pairing.approve": self.pairing_approve,
            "pairing.deny": self.pairing_deny,
            "pairing.revoke": self.pairing_revoke,
            "logs.tail": self.logs_tail,
            "ping": self.ping,
        }

    async def call(self, method: str, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        handler = self.table.get(method)
        if handler is None:
            raise ProtocolError("unknown_method", f"no method {method!r}; methods: "
                                f"{', '.join(sorted(self.table))}")
        return await handler(params, claims)

    async def ping(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        return {"pong": time.time()}

    async def status(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        engine = self.s.engine
        channels = {name: {"ready": bool(ch.ready), "last_error": ch.last_error}
                    for name, ch in engine.channels.items()}
        return {
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "started_at": self.s.started_at,
            "uptime_s": round(time.time() - self.s.started_at, 1),
            "gateway": self.s.gateway_url(),
            "ready": bool(engine.intake_open and all(c["ready"] for c in channels.values())),
            "queue_depth": engine.inbox.depth(),
            "channels": channels,
            "providers": list(self.s.router.order),
            "clients": self.s.clients(),
            "expose_message_text": self.s.expose_text,
            "subject": claims.get("sub"),
        }

    async def metrics_snapshot(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        return self.s.metrics.snapshot()

    async def providers_status(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        router = self.s.router
        now = router.clock()
        out = []
        for name in router.order:
            cfg, st = router.configs[name], router.state[name]
            cooldown = max(0.0, st.cooldown_until - now)
            state = "cooling_down" if cooldown > 0 else "failing" if st.failures else "ok"
            out.append({"name": name, "kind": cfg.kind, "model": cfg.model, "state": state,
                        "failures": st.failures, "cooldown_s": round(cooldown, 1),
                        "last_error": st.last_error, "last_error_kind": st.last_error_kind})
        return {"order": list(router.order), "providers": out}

    async def pairing_list(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        store = self.s.pairing
        return {
            "pending": [{"platform": r.platform, "user_id": r.user_id, "name": r.display_name,
                         "status": r.status, "created_at": r.created_at,
                         "expires_at": r.expires_at, "failed_attempts": r.failed_attempts}
                        for r in store.pending()],
            "approved": [{"platform": s.platform, "user_id": s.user_id, "name": s.display_name,
                          "approved_at": s.approved_at, "approved_by": s.approved_by,
                          "via": s.via} for s in store.senders()],
        }

    async def pairing_approve(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        platform, user_id = _text(params, "platform"), _text(params, "user_id")
        code = _text(params, "code")
        actor, target = f"token:{claims['sub']}", f"{platform}:{user_id}"
        audit = self.s.audit
        try:
            req = self.s.pairing.approve(platform, user_id, code, actor)
        except PairingError as exc:
            audit.append("pairing.approve", target, "refused", actor=actor, via="gateway",
                         reason=exc.message)
            raise ProtocolError("pairing", str(exc)) from None
        audit.append("pairing.approve", target, "ok", actor=actor, via="gateway")
        return {"platform": platform, "user_id": user_id, "name": req.display_name,
                "approved": True}

    async def pairing_deny(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        platform, user_id = _text(params, "platform"), _text(params, "user_id")
        actor, target = f"token:{claims['sub']}", f"{platform}:{user_id}"
        audit = self.s.audit
        try:
            req = self.s.pairing.deny(platform, user_id, actor)
        except PairingError as exc:
            audit.append("pairing.deny", target, "refused", actor=actor, via="gateway",
                         reason=exc.message)
            raise ProtocolError("pairing", str(exc)) from None
        audit.append("pairing.deny", target, "ok", actor=actor, via="gateway")
        self.s.events.publish(PairingDenied(channel=platform, sender=user_id,
                                            sender_name=req.display_name))
        return {"platform": platform, "user_id": user_id, "denied": True}

    async def pairing_revoke(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        platform, user_id = _text(params, "platform"), _text(params, "user_id")
        actor, target = f"token:{claims['sub']}", f"{platform}:{user_id}"
        if not self.s.pairing.revoke(platform, user_id):
            self.s.audit.append("pairing.revoke", target, "not-found", actor=actor,
                                via="gateway")
            raise ProtocolError("pairing", f"{platform} user {user_id} is not an approved "
                                "sender")
        self.s.audit.append("pairing.revoke", target, "ok", actor=actor, via="gateway")
        return {"platform": platform, "user_id": user_id, "revoked": True}

    async def logs_tail(self, params: dict[str, Any], claims: dict[str, Any]) -> Any:
        from assistant_cli.observability.logview import LogFilter, tail

        n = params.get("n", 100)
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_LOG_LINES:
            raise ProtocolError("bad_params", f"`n` must be an integer from 0 to {MAX_LOG_LINES}")
        level = params.get("level")
        if level is not None and not isinstance(level, str):
            raise ProtocolError("bad_params", "`level` must be debug, info, warning or error")
        try:
            flt = LogFilter(min_level=level)
        except UsageError as exc:
            raise ProtocolError("bad_params", exc.message) from None
        # Reading files off the event loop: a long log must not stall message handling.
        records = await asyncio.to_thread(tail, self.s.log_file, n, flt)
        return {"lines": [{"ts": r.ts.isoformat(), "level": r.level, "logger": r.logger,
                           "event": r.event, "msg": r.msg, "fields": r.fields}
                          for r in records]}
