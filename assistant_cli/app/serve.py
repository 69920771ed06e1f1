"""Assembling and running `serve`: store, secrets, providers, channels, gateway, engine.

`assistant_cli.tools.mcp_client` is imported inside functions (`assemble`), only when MCP
servers are configured: the `mcp` SDK and its dependencies cost start-up time and memory otherwise.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant_cli import i18n
from assistant_cli.app.replicas import Replica, check_role, open_replica, replica_name
from assistant_cli.app.tools_setup import build_tool_loop, local_registry
from assistant_cli.channels.base import ChannelContext
from assistant_cli.config.loader import Document, read_document, validate_section
from assistant_cli.domain.events import EventBus
from assistant_cli.engine.core import Engine
from assistant_cli.engine.language import SenderLanguages
from assistant_cli.engine.pipeline import HandlerPipeline
from assistant_cli.engine.policy import AccessPolicy, start_notifier, stop_notifier
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.gateway import control as gateway_control
from assistant_cli.gateway.server import Gateway
from assistant_cli.gateway.tls import refuse_plain_http
from assistant_cli.locks import acquire_lock
from assistant_cli.observability.logs import setup_logging
from assistant_cli.paths import Paths
from assistant_cli.plugins import registry
from assistant_cli.plugins.loading import load_handlers, load_locales
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import open_audit
from assistant_cli.store.backend import is_postgres, open_database, state_password
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.kv import language_store, plugin_store
from assistant_cli.store.pairing import PairingStore
from assistant_cli.store.retry import RetryPolicy
from assistant_cli.store.undelivered import Undelivered
from assistant_cli.store.usage import HealthLog, UsageLedger

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.config.models import Config, GatewayConfig
    from assistant_cli.store.inbox import InboxStore
    from assistant_cli.tools.mcp_client import McpHub

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
    role: str = "all"  # all | intake | worker (split roles need the PostgreSQL state)
    replica: str | None = None  # this replica's name (default state.replica, or host-pid)


def wanted_channels(config: Config, *, stdin_absent: bool = False) -> dict[str, Any]:
    """Platform name → its config section, for every enabled platform. With no stdin to
    read (a service: /dev/null or closed) the console channel is left out."""
    chosen: dict[str, Any] = {}
    for name in ("telegram", "whatsapp"):
        section = getattr(config.platforms, name)
        if section is not None and section.enabled:
            chosen[name] = section
    console = config.platforms.console
    if (console.enabled or (console.enabled is None and not chosen)) and not stdin_absent:
        chosen["console"] = console
    return chosen


class StopSignal:
    """How a run ends: the console's input ended (answer everything queued first), or
    SIGINT/SIGTERM (stop intake, let answers finish; a second signal hurries them)."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.signalled = asyncio.Event()
        self.drain_first = False
        self.engine: Engine | None = None

    def request_stop(self) -> None:
        self.drain_first = True
        self.stop.set()

    def on_signal(self) -> None:
        # The first SIGINT/SIGTERM stops intake and lets answers finish; a second one
        # cuts the grace period short (the work goes back to the queue, not lost).
        if self.signalled.is_set() and self.engine is not None:
            self.engine.hurry()
        self.signalled.set()
        self.stop.set()


@dataclass
class Serve:
    """The parts of one run, wired together."""

    engine: Engine
    channels: dict[str, Channel]
    pairing: PairingStore
    events: EventBus
    gateway: Gateway | None
    control: gateway_control.ControlPlane | None
    languages: SenderLanguages
    mcp_hub: McpHub | None = None
    mcp_started: asyncio.Future[None] | None = None
    replica: Replica | None = None
    role: str = "all"


def stdin_absent() -> bool:
    """True when stdin is closed or a character device that is no terminal (/dev/null, as
    systemd and launchd give a service). Piped questions (a pipe or a file) still count."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return True
    return stat.S_ISCHR(mode) and not os.isatty(0)


async def run(config: Config, paths: Paths, options: ServeOptions) -> int:
    """Run until SIGINT/SIGTERM (or end of terminal input); returns the exit code."""
    gateway_config(config, options)  # refuses plain HTTP beyond loopback before anything opens
    no_stdin = stdin_absent()
    platforms = wanted_channels(config, stdin_absent=no_stdin)
    postgres = is_postgres(config.state)
    check_role(options.role, postgres=postgres, platforms=platforms)
    paths.ensure_state_dir()
    name = replica_name(config.state, options.replica) if postgres else None
    # On PostgreSQL, replicas may share a home (systemd instances): one lock per replica name.
    lock = (acquire_lock(paths.state_dir / f"serve-{name}.lock", f"the replica name {name}")
            if name else acquire_lock(paths.serve_lock, f"the state directory {paths.state_dir}"))
    setup_logging(paths.log_file, level="DEBUG" if options.debug else config.logging.level.upper(),
                  max_bytes=config.logging.max_bytes, backups=config.logging.backups,
                  console_level=None if "console" in platforms else "WARNING",
                  console_tracebacks=options.debug)
    if no_stdin and "console" in wanted_channels(config):
        log.warning("no terminal on stdin (running as a service?): the console channel is "
                    "off; serve keeps running for the gateway%s",
                    "" if platforms else " only (no chat platform is configured)",
                    extra={"event": "serve.console_off"})
    replica = None
    try:
        if name is not None:
            password = state_password(paths, config.state.password)
            replica = await open_replica(config, password, role=options.role, name=name)
        db = open_database(paths, config.state)
        if replica is not None:
            replica.bound_waits(db)
    except BaseException:
        if replica is not None:
            await replica.close()
        lock.close()
        raise
    signal_ = StopSignal()
    try:
        serve = assemble(config, paths, options, db, platforms, signal_, replica)
    except BaseException:  # a missing secret, say: close what is open, then say why
        if replica is not None:
            await replica.close()
        db.close()
        lock.close()
        raise
    try:
        for channel in serve.channels.values():
            await channel.prepare()
        await _run_until_stopped(config, paths, serve, signal_)
    finally:
        await _shut_down(serve)
        db.close()
        lock.close()
    return 0


def assemble(config: Config, paths: Paths, options: ServeOptions, db: Database,
             platforms: dict[str, Any], signal_: StopSignal,
             replica: Replica | None = None) -> Serve:
    """Store, secrets, providers, policy, channels, engine and gateway, not yet started."""
    secrets = SecretStore(paths, db)

    def resolve(ref: str, key: str) -> str:
        return secrets.resolve(ref, key=key)

    _check_provider_secrets(config, resolve)
    events = EventBus()
    router = ProviderRouter(config, resolve, events, health=HealthLog(db).hook)
    inbox: InboxStore = replica.inbox if replica is not None else _inbox(config, db)
    pairing = PairingStore(db)
    languages = SenderLanguages(language_store(db), config.locale)
    pipeline = HandlerPipeline(load_plugins(config, paths), lambda name: plugin_store(db, name),
                               events)
    tool_registry = local_registry(config.tools, db, config.plugins)
    tool_loop = build_tool_loop(config.tools, db, events, open_audit(db, secrets),
                                tool_registry, platforms, pairing)
    runner = TurnRunner(inbox, History(db), router, config.assistant, events,
                        AccessPolicy(platforms, pairing, events, languages),
                        usage=UsageLedger(db), pipeline=pipeline, languages=languages,
                        tools=tool_loop)
    mcp_hub = None
    if config.tools.mcp_servers:
        from assistant_cli.tools.mcp_client import McpHub

        mcp_hub = McpHub(config.tools.mcp_servers, resolve, tool_registry, events)
    gateway_cfg = gateway_config(config, options)
    gateway = (Gateway(gateway_cfg, lambda: ready_report(signal_.engine))
               if gateway_cfg.enabled else None)
    ctx = ChannelContext(resolve_secret=resolve, paths=paths, events=events,
                         request_stop=signal_.request_stop,
                         web_app=gateway.app if gateway is not None else None,
                         leadership=replica.leadership if replica is not None else None)
    channels = _channels(platforms, ctx, options.role)
    intake_only = options.role == "intake"  # receives and stores; sends nothing
    engine = signal_.engine = Engine(inbox, runner, channels, events,
                                     workers=0 if intake_only else config.assistant.workers,
                                     undelivered=None if intake_only else Undelivered(db))
    control = None
    if gateway is not None:
        control = gateway_control.build(
            gateway, config=gateway_cfg, paths=paths, secrets=secrets, db=db, engine=engine,
            router=router, pairing=pairing, events=events,
            failed_count=replica.inbox.failed_count if replica is not None else None)
        gateway_control.warn_at_start(gateway_cfg)
    return Serve(engine, channels, pairing, events, gateway, control, languages, mcp_hub,
                 replica=replica, role=options.role)


def _channels(platforms: dict[str, Any], ctx: ChannelContext, role: str) -> dict[str, Channel]:
    channels: dict[str, Channel] = {
        name: registry.load(registry.CHANNELS, name, key=f"platforms.{name}")(section, ctx)
        for name, section in platforms.items()}
    for channel in channels.values():
        channel.receiving = role != "worker"  # a worker replica only answers
    return channels


def _inbox(config: Config, db: Database) -> Inbox:
    delivery = config.delivery
    return Inbox(db, policy=RetryPolicy(
        give_up_after=delivery.give_up_after, initial=delivery.retry_initial,
        maximum=delivery.retry_max, other_attempts=delivery.other_error_attempts))


def load_plugins(config: Config, paths: Paths) -> list[Any]:
    """Locale directories registered, handlers loaded in order (failures reported)."""
    plugins = config.plugins
    for directory in load_locales(plugins):
        i18n.add_directory(directory)
    if not plugins.enabled:
        return []
    doc = read_document(paths.config_file) if paths.config_file.exists() else Document({})

    def validate(model: Any, data: Any, name: str) -> Any:
        return validate_section(model, data, ("plugins", "settings", name), doc,
                                paths.config_file.name)

    return load_handlers(plugins, validate)


def _check_provider_secrets(config: Config, resolve: Callable[[str, str], str]) -> None:
    """Fail at start, not at the first message, when a provider's secret is missing."""
    for name in config.provider_order():
        api_key = config.providers[name].api_key
        if api_key:
            resolve(api_key, f"providers.{name}.api_key")


def gateway_config(config: Config, options: ServeOptions) -> GatewayConfig:
    """The gateway settings with command-line overrides; refuses plain HTTP beyond loopback
    unless --insecure-http (before anything is opened or bound)."""
    overrides = {k: v for k in ("host", "port", "jwt_secret", "allowed_origins", "tls_cert",
                                "tls_key") if (v := getattr(options, k)) is not None}
    gateway_cfg = config.gateway.model_copy(update=overrides) if overrides else config.gateway
    refuse_plain_http(gateway_cfg, insecure_http=options.insecure_http)
    return gateway_cfg


async def _run_until_stopped(config: Config, paths: Paths, serve: Serve,
                             signal_: StopSignal) -> None:
    """Start gateway and engine, say so, wait for the end, and let answers finish."""
    engine, gateway, control = serve.engine, serve.gateway, serve.control
    # MCP servers start concurrently (each within its start_timeout) while the gateway
    # starts; the workers wait for them, so the first answer can already use their tools.
    mcp_started = asyncio.ensure_future(serve.mcp_hub.start()) if serve.mcp_hub else None
    serve.mcp_started = mcp_started
    if gateway is not None:
        await gateway.start()
    if control is not None:
        await control.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signal_.on_signal)
    if mcp_started is not None:
        await mcp_started
    if serve.replica is not None:
        await serve.replica.start(serve.events, control,
                                  config.gateway.expose_message_text, wake=engine.wake)
    await engine.start()
    replica = serve.replica
    notifier = (start_notifier(serve.pairing, serve.channels, serve.events, serve.languages,
                               paused=lambda: replica is not None and replica.unavailable)
                if serve.role != "intake" else None)
    _announce(config, serve.channels, gateway.url if gateway else None, paths, serve.replica)
    # What serve built to start (modules, config, clients) lives as long as serve: out of
    # the collector's sight, a full collection under load scans only what turns allocate.
    gc.freeze()
    if control is not None:
        control.announce()
    await signal_.stop.wait()
    if signal_.drain_first:
        # Input ended (e.g. piped questions): answer all of them; a signal ends the wait.
        await engine.drain(until=signal_.signalled)
    if engine.in_flight:
        # On a line of its own: in the terminal an answer may be half-printed.
        print(f"\nstopping: finishing {engine.in_flight} answer(s) in progress (up to "
              f"{engine.grace:.0f} s); press Ctrl-C again to stop now, and unfinished "
              "messages are answered at the next start", file=sys.stderr, flush=True)
    if notifier is not None:
        await stop_notifier(notifier)
    log.info("shutting down", extra={"event": "serve.stopping"})


async def _shut_down(serve: Serve) -> None:
    try:
        await serve.engine.stop()
    except Exception:  # logged, not raised: the gateway and the state file must still close
        log.exception("the engine did not stop cleanly", extra={"event": "serve.stop_failed"})
    if serve.mcp_hub is not None:
        if serve.mcp_started is not None and not serve.mcp_started.done():
            serve.mcp_started.cancel()
        await serve.mcp_hub.stop()
    if serve.control is not None:
        await serve.control.stop()
    if serve.gateway is not None:
        await serve.gateway.stop()
    if serve.replica is not None:
        await serve.replica.close()


def ready_report(engine: Any) -> dict[str, Any]:
    channels = {name: ch.ready for name, ch in engine.channels.items()}
    inbox = engine.inbox  # e.g. "database or disk is full", or the PostgreSQL server gone
    storage = (inbox.storage_problem() if hasattr(inbox, "storage_problem")
               else inbox.db.storage_problem())
    ready = engine.intake_open and all(channels.values()) and storage is None
    return {"ready": ready, "channels": channels, "storage": storage or "ok",
            "queue_depth": engine.inbox.depth()}


def _announce(config: Config, channels: dict[str, Channel], url: str | None, paths: Paths,
              replica: Replica | None = None) -> None:
    order = config.provider_order()
    provider = f"{order[0]} ({config.providers[order[0]].model})" if order else "none"
    parts = [f"channels: {', '.join(channels) or 'none'}", f"provider: {provider}"]
    if replica is not None:
        parts.append(f"replica: {replica.name} ({replica.role})")
    if url:
        parts.append(f"gateway: {url}")
    line = "assistant-cli ready · " + " · ".join(parts)
    log.info(line, extra={"event": "serve.ready", "fields": {"channels": list(channels)}})
    print(line, file=sys.stderr, flush=True)
