"""Assembling and running `serve`: store, secrets, providers, channels, gateway, engine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant_cli.locks import acquire_lock
from assistant_cli.paths import Paths

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.config.models import Config, GatewayConfig

log = logging.getLogger("assistant_cli.app.serve")


@dataclass
class ServeOptions:
    """Command-line overrides for one run of `serve`."""

    host: str | None = None
    port: int | None = None
    debug: bool = False
    jwt_secret: str | None = None
    allowed_origins: list[str] | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_http: bool = False  # allow plain HTTP beyond loopback


def wanted_channels(config: Config) -> dict[str, Any]:
    """Platform name → its config section, for every enabled platform."""
    chosen: dict[str, Any] = {}
    for name in ("telegram", "whatsapp"):
        section = getattr(config.platforms, name)
        if section is not None and section.enabled:
            chosen[name] = section
    console = config.platforms.console
    if console.enabled or (console.enabled is None and not chosen):
        chosen["console"] = console
    return chosen


async def run(config: Config, paths: Paths, options: ServeOptions) -> int:
    """Run until SIGINT/SIGTERM (or end of terminal input); returns the exit code."""
    from assistant_cli.channels.base import ChannelContext
    from assistant_cli.domain.events import EventBus
    from assistant_cli.engine.core import Engine
    from assistant_cli.engine.policy import AccessPolicy, start_notifier, stop_notifier
    from assistant_cli.engine.turn import TurnRunner
    from assistant_cli.observability.logs import setup_logging
    from assistant_cli.plugins import registry
    from assistant_cli.providers.router import ProviderRouter
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.db import Database
    from assistant_cli.store.history import History
    from assistant_cli.store.inbox import Inbox
    from assistant_cli.store.pairing import PairingStore
    from assistant_cli.store.usage import HealthLog, UsageLedger

    gateway_cfg = gateway_config(config, options)
    paths.ensure_state_dir()
    lock = acquire_lock(paths.serve_lock, f"the state directory {paths.state_dir}")
    platforms = wanted_channels(config)
    console_active = "console" in platforms
    setup_logging(paths.log_file, level="DEBUG" if options.debug else config.logging.level.upper(),
                  max_bytes=config.logging.max_bytes, backups=config.logging.backups,
                  console_level=None if console_active else "WARNING",
                  console_tracebacks=options.debug)
    db = Database(paths.database)
    secrets = SecretStore(paths, db)

    def resolve(ref: str, key: str) -> str:
        return secrets.resolve(ref, key=key)

    # Fail at start, not at the first message, when a provider's secret is missing.
    for name in config.provider_order():
        api_key = config.providers[name].api_key
        if api_key:
            resolve(api_key, f"providers.{name}.api_key")

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signalled = asyncio.Event()
    drain_first = False

    def request_stop() -> None:
        nonlocal drain_first
        drain_first = True
        stop.set()

    def on_signal() -> None:
        # The first SIGINT/SIGTERM stops intake and lets answers finish; a second one
        # cuts the grace period short (the work goes back to the queue, not lost).
        if signalled.is_set():
            engine.hurry()
        signalled.set()
        stop.set()

    events = EventBus()
    router = ProviderRouter(config, resolve, events, health=HealthLog(db).hook)
    inbox = Inbox(db)
    pairing = PairingStore(db)
    policy = AccessPolicy(platforms, pairing, events)
    runner = TurnRunner(inbox, History(db), router, config.assistant, events, policy,
                        usage=UsageLedger(db))
    gateway = None
    web_app = None
    if gateway_cfg.enabled:
        from assistant_cli.gateway.server import Gateway

        gateway = Gateway(gateway_cfg, lambda: ready_report(engine))
        web_app = gateway.app
    ctx = ChannelContext(resolve_secret=resolve, paths=paths, events=events,
                         request_stop=request_stop, web_app=web_app)
    channels: dict[str, Channel] = {}
    for name, section in platforms.items():
        cls = registry.load(registry.CHANNELS, name, key=f"platforms.{name}")
        channels[name] = cls(section, ctx)
    engine = Engine(inbox, runner, channels, events, workers=config.assistant.workers)
    control = None
    if gateway is not None:
        from assistant_cli.gateway import control as gateway_control

        control = gateway_control.build(gateway, config=gateway_cfg, paths=paths,
                                        secrets=secrets, db=db, engine=engine, router=router,
                                        pairing=pairing, events=events)
        gateway_control.warn_at_start(gateway_cfg)
    for channel in channels.values():
        await channel.prepare()
    try:
        if gateway is not None:
            await gateway.start()
        if control is not None:
            await control.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await engine.start()
        notifier = start_notifier(pairing, channels, events)
        _announce(config, channels, gateway.url if gateway else None, paths)
        if control is not None:
            control.announce()
        await stop.wait()
        if drain_first:
            # Input ended (e.g. piped questions): answer all of them; a signal ends the wait.
            await engine.drain(until=signalled)
        if engine.in_flight:
            # On a line of its own: in the terminal an answer may be half-printed.
            print(f"\nstopping: finishing {engine.in_flight} answer(s) in progress (up to "
                  f"{engine.grace:.0f} s); press Ctrl-C again to stop now, and unfinished "
                  "messages are answered at the next start", file=sys.stderr, flush=True)
        await stop_notifier(notifier)
        log.info("shutting down", extra={"event": "serve.stopping"})
    finally:
        with contextlib.suppress(Exception):
            await engine.stop()
        if control is not None:
            await control.stop()
        if gateway is not None:
            await gateway.stop()
        db.close()
        lock.close()
    return 0


def gateway_config(config: Config, options: ServeOptions) -> GatewayConfig:
    """The gateway settings with command-line overrides; refuses plain HTTP beyond loopback
    unless --insecure-http (before anything is opened or bound)."""
    from assistant_cli.gateway.tls import refuse_plain_http

    gateway_cfg = config.gateway
    overrides = {k: v for k in ("host", "port", "jwt_secret", "allowed_origins", "tls_cert",
                                "tls_key") if (v := getattr(options, k)) is not None}
    if overrides:
        gateway_cfg = gateway_cfg.model_copy(update=overrides)
    refuse_plain_http(gateway_cfg, insecure_http=options.insecure_http)
    return gateway_cfg


def ready_report(engine: Any) -> dict[str, Any]:
    channels = {name: ch.ready for name, ch in engine.channels.items()}
    storage = engine.inbox.db.storage_problem()  # e.g. "database or disk is full"
    ready = engine.intake_open and all(channels.values()) and storage is None
    return {"ready": ready, "channels": channels, "storage": storage or "ok",
            "queue_depth": engine.inbox.depth()}


def _announce(config: Config, channels: dict[str, Channel], url: str | None, paths: Paths) -> None:
    order = config.provider_order()
    provider = f"{order[0]} ({config.providers[order[0]].model})" if order else "none"
    parts = [f"channels: {', '.join(channels)}", f"provider: {provider}"]
    if url:
        parts.append(f"gateway: {url}")
    line = "assistant-cli ready · " + " · ".join(parts)
    log.info(line, extra={"event": "serve.ready", "fields": {"channels": list(channels)}})
    print(line, file=sys.stderr, flush=True)
