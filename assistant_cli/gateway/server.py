"""The gateway's HTTP server inside `serve`: health, readiness and channel webhooks.

`control.py` adds the dashboard side (/ws, /metrics) to the same app before it starts.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from assistant_cli.config.models import GatewayConfig
from assistant_cli.errors import StateError
from assistant_cli.gateway.portowner import who_listens
from assistant_cli.gateway.tls import server_context

log = logging.getLogger("assistant_cli.gateway")

ReadyCheck = Callable[[], dict[str, Any]]


class Gateway:
    """One aiohttp app on one port; channels add their webhook routes before start."""

    def __init__(self, config: GatewayConfig, ready_check: ReadyCheck) -> None:
        self.config = config
        self.ready_check = ready_check
        self.app = web.Application(client_max_size=config.max_body_bytes)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            report = self.ready_check()
        except Exception as exc:  # e.g. the state database cannot be read: not ready
            log.warning("readiness check failed: %s", exc, extra={"event": "gateway.not_ready"})
            # Unauthenticated endpoint: the class says enough; the details are in the log.
            return web.json_response({"ready": False, "error": type(exc).__name__}, status=503)
        ok = bool(report.get("ready"))
        return web.json_response(report, status=200 if ok else 503)

    async def start(self) -> None:
        ssl_context = server_context(self.config)  # unreadable TLS files fail here, clearly
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port,
                           reuse_address=True, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                owner = who_listens(self.config.port)
                raise StateError(
                    f"gateway port {self.config.port} on {self.config.host} is already in use"
                    + (f" by {owner}" if owner else ""),
                    hint=f"stop what uses it (`ss -ltnp 'sport = :{self.config.port}'` shows "
                    "it), or choose another with --port / gateway.port",
                ) from None
            raise StateError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}",
                hint="check gateway.host and gateway.port in config.yaml",
            ) from None
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        log.info("gateway listening on %s", self.url,
                 extra={"event": "gateway.listening", "fields": {"url": self.url}})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
