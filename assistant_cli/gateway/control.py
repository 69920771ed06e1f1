"""The gateway's control side inside `serve`: /ws, /metrics, /, the per-second metrics event,
and the dashboard URL with its token.

Built after the engine and before the gateway starts (aiohttp freezes routes at start).
While `serve` runs, `state/gateway.json` tells local clients (`assistant-cli dashboard`
without a URL) where the gateway listens — needed when `gateway.port` is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from assistant_cli.domain.events import MetricsReading
from assistant_cli.gateway.auth import Authenticator, Lockout
from assistant_cli.gateway.hub import EventHub
from assistant_cli.gateway.local import client_url, state_file
from assistant_cli.gateway.methods import Methods, Services
from assistant_cli.gateway.tls import startup_warnings
from assistant_cli.gateway.tokens import JwtKeys
from assistant_cli.gateway.websocket import Session, websocket_handler
from assistant_cli.observability import log_events
from assistant_cli.observability.serve_metrics import ServeMetrics
from assistant_cli.store.audit import open_audit
from assistant_cli.store.undelivered import Undelivered

if TYPE_CHECKING:
    from assistant_cli.config.models import GatewayConfig
    from assistant_cli.domain.events import EventBus
    from assistant_cli.gateway.server import Gateway
    from assistant_cli.paths import Paths
    from assistant_cli.providers.router import ProviderRouter
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.db import Database
    from assistant_cli.store.pairing import PairingStore

log = logging.getLogger("assistant_cli.gateway")

TICK_SECONDS = 1.0
CLOSE_TOKEN_EXPIRED = 4001
INDEX_TEXT = (
    "assistant-cli gateway\n\n"
    "This address is for the Textual dashboard. In a terminal, run:\n\n"
    "    assistant-cli dashboard 'THIS-URL-WITH-ITS-?token=...'\n\n"
    "Health: /healthz  Readiness: /readyz  Prometheus metrics: /metrics\n"
)


def local_base_url(gateway: Gateway) -> str:
    """The gateway's URL as a client on this machine reaches it (wildcards → loopback)."""
    return client_url(gateway.config.host, gateway.port, bool(gateway.config.tls_cert))


def owner_subject() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "owner"


class ControlPlane:
    """Adds the control routes to a Gateway and runs what they need."""

    def __init__(self, gateway: Gateway, services: Services, keys: JwtKeys,
                 config: GatewayConfig, *, paths: Paths | None = None) -> None:
        self.gateway = gateway
        self.services = services
        self.keys = keys
        self.config = config
        self.paths = paths
        self.metrics = services.metrics
        self.hub = EventHub(services.events, expose_text=config.expose_message_text)
        self.sessions: set[Session] = set()
        services.clients = lambda: len(self.sessions)
        self.metrics.client_count = services.clients
        self.auth = Authenticator(keys, list(config.allowed_origins),
                                  Lockout(config.lockout_failures, config.lockout_seconds),
                                  trusted_proxies=list(config.trusted_proxies))
        self.methods = Methods(services)
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[Any]] = set()
        self._log_handler: log_events.BusLogHandler | None = None
        app = gateway.app
        app.router.add_get("/", self._index)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/ws", functools.partial(
            websocket_handler, auth=self.auth, methods=self.methods, hub=self.hub,
            sessions=self.sessions, max_frame_bytes=config.max_frame_bytes))
        app.on_shutdown.append(self._close_sessions)

    # -- routes -----------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text=INDEX_TEXT)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(),
                            content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Call once the gateway listens."""
        events = self.services.events
        self.metrics.start(events)
        self.hub.start()
        self._log_handler = log_events.attach(events, wanted=lambda: bool(self.hub.outboxes))
        self._tasks.append(asyncio.create_task(self._tick(), name="gateway-tick"))
        self._write_state()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._log_handler is not None:
            log_events.detach(self._log_handler)
            self._log_handler = None
        await self._close_sessions(self.gateway.app)
        await self.hub.stop()
        await self.metrics.stop()
        if self.paths is not None:
            with contextlib.suppress(OSError):
                state_file(self.paths).unlink()

    async def _close_sessions(self, app: web.Application) -> None:
        for session in list(self.sessions):
            try:
                await asyncio.wait_for(session.ws.close(code=1001, message=b"server stopping"),
                                       1.0)
            except Exception as exc:  # a client gone already; it is cut off just below
                log.debug("closing a dashboard connection failed: %r", exc,
                          extra={"event": "gateway.close_failed"})
            session.abort()

    async def _tick(self) -> None:
        """Every second: a metrics event for watching clients, and cut off stuck ones."""
        events = self.services.events
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self.hub.outboxes:
                events.publish(MetricsReading(values=self.metrics.snapshot()))
            now, wall = time.monotonic(), time.time()
            for session in list(self.sessions):
                if session.claims["exp"] < wall and not session.expiring:
                    session.expiring = True  # the token ran out while connected
                    task = asyncio.create_task(session.ws.close(
                        code=CLOSE_TOKEN_EXPIRED, message=b"token expired"))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
                if session.stalled(now):
                    log.warning("cut off dashboard client %s: it stopped reading",
                                session.remote, extra={"event": "gateway.client_stalled",
                                                       "fields": {"remote": session.remote}})
                    session.abort()

    def _write_state(self) -> None:
        if self.paths is None:
            return
        path = state_file(self.paths)
        data = {"url": local_base_url(self.gateway), "pid": os.getpid(),
                "tls": bool(self.config.tls_cert)}
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)

    # -- the printed URL --------------------------------------------------------------
    def dashboard_url(self, sub: str | None = None) -> str:
        token = self.keys.mint(sub or owner_subject(), self.config.token_ttl)
        return f"{local_base_url(self.gateway)}/?token={token}"

    def announce(self) -> None:
        """Say once how to open the dashboard. The token is printed only to a terminal:
        piped or under a service, stderr ends up in a journal or a file, so there it says
        how to get a token instead. It never goes to the log file."""
        if self.keys.ephemeral is not None:
            print("warning: there is no keyring, so the secret that signs gateway tokens lives "
                  "only in this process: tokens stop working when serve stops, and "
                  "`assistant-cli dashboard` without a URL cannot mint its own. Set "
                  "gateway.jwt_secret to env:NAME, or ASSISTANT_CLI_KEYRING_PASSWORD",
                  file=sys.stderr, flush=True)
        if not sys.stderr.isatty():
            print("dashboard: run `assistant-cli dashboard` on this machine (it mints its own "
                  "token), or `assistant-cli gateway token --url` for a URL to use elsewhere",
                  file=sys.stderr, flush=True)
            return
        ttl = self.config.token_ttl
        valid = f"{ttl / 3600:g} h" if ttl >= 3600 else f"{ttl // 60} min"
        print(f"dashboard (token valid {valid}): assistant-cli dashboard "
              f"'{self.dashboard_url()}'", file=sys.stderr, flush=True)


def warn_at_start(config: GatewayConfig) -> None:
    """Print (and log) the gateway settings that expose more than the owner may think."""
    for warning in startup_warnings(config):
        # Logged at info: the printed line is the warning (a stderr log handler would double it).
        log.info("warning: %s", warning, extra={"event": "gateway.insecure"})
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def build(gateway: Gateway, *, config: GatewayConfig, paths: Paths, secrets: SecretStore,
          db: Database, engine: Any, router: ProviderRouter, pairing: PairingStore,
          events: EventBus, failed_count: Callable[[], int] | None = None) -> ControlPlane:
    """Everything the control side needs, from the parts `serve` already has.
    `failed_count`: given-up messages without a database read on the event loop (the
    PostgreSQL inbox counts them with its heartbeat); default: read from `db`."""
    keys = JwtKeys(secrets, config.jwt_secret, grace=config.rotation_grace,
                   max_lifetime=config.max_token_lifetime)
    services = Services(
        engine=engine, router=router, pairing=pairing, audit=open_audit(db, secrets),
        events=events, metrics=ServeMetrics(engine.inbox.depth, failed_count=failed_count or (
            lambda: Undelivered(db).counts().failed)), log_file=paths.log_file,
        gateway_url=lambda: local_base_url(gateway), clients=lambda: 0,
        expose_text=config.expose_message_text, started_at=time.time())
    return ControlPlane(gateway, services, keys, config, paths=paths)
