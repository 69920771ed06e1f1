"""A real engine + gateway in the test's event loop: a channel the test feeds, a fake model.

Everything `serve` wires for the gateway is wired the same way here (control.build), so
tests talk to the real /ws, /metrics and methods over loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from assistant_cli.app.serve import ready_report
from assistant_cli.channels.base import Channel, InboundSink
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import GatewayConfig
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.core import Engine
from assistant_cli.engine.policy import AccessPolicy, notify_paired
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.gateway import control as gateway_control
from assistant_cli.gateway.server import Gateway
from assistant_cli.observability.logs import setup_logging
from assistant_cli.paths import Paths
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.pairing import PairingStore
from tests.fakes.openai_server import FakeOpenAI

CODE_RE = re.compile(r"Pairing code: ([A-Z0-9-]+)")


class FeedChannel(Channel):
    """A Telegram-like channel whose messages the test types in."""

    platform = "telegram"

    def __init__(self, config: Any, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.sent: list[tuple[str, str]] = []
        self.replies: list[tuple[str, str]] = []
        self._sink: InboundSink | None = None
        self._n = 0
        self._feeding: set[asyncio.Future[bool]] = set()

    async def start(self, sink: InboundSink) -> None:
        self._sink = sink
        self.ready = True

    async def stop(self) -> None:
        self.ready = False

    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        self.replies.append((msg.chat_id, "".join([d async for d in deltas])))

    async def send(self, chat_id: str, text: str) -> None:
        self.sent.append((chat_id, text))

    def feed(self, text: str, sender: str = "100", name: str = "") -> None:
        assert self._sink is not None
        self._n += 1
        # Stored in the background, in order, as a platform's handler would (group commit).
        task = asyncio.ensure_future(self._sink.submit(InboundMessage(
            platform="telegram", external_id=f"f{self._n}", chat_id=sender, sender_id=sender,
            sender_name=name, text=text)))
        self._feeding.add(task)
        task.add_done_callback(self._feeding.discard)

    def pairing_code(self, sender: str) -> str | None:
        for chat, text in self.sent:
            match = CODE_RE.search(text)
            if chat == sender and match:
                return match.group(1)
        return None


@dataclass
class Harness:
    paths: Paths
    db: Database
    secrets: SecretStore
    events: EventBus
    engine: Engine
    channel: FeedChannel
    pairing: PairingStore
    gateway: Gateway
    control: gateway_control.ControlPlane

    @property
    def base_url(self) -> str:
        return gateway_control.local_base_url(self.gateway)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/ws"

    def token(self, sub: str = "tester", ttl: float = 600) -> str:
        return self.control.keys.mint(sub, ttl)


async def wait_until(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def live_gateway(tmp_path: Path, fake: FakeOpenAI, *, allow_from: tuple[str, ...] = ("100",),
                       log_level: str | None = "DEBUG", workers: int = 2,
                       **gateway: Any) -> AsyncIterator[Harness]:
    paths = Paths(config_file=tmp_path / "config.yaml", state_dir=tmp_path / "state")
    paths.ensure_state_dir()
    if log_level is not None:
        setup_logging(paths.log_file, level=log_level)
    db = Database(paths.database)
    secrets = SecretStore(paths, db)
    config = validate_document(parse_document(
        f"providers:\n  fake: {{base_url: '{fake.base_url}', model: fake-model, api_key: env:K}}\n"
        "assistant:\n  system_prompt: sys\n", "c"), "c")
    events = EventBus()
    router = ProviderRouter(config, lambda ref, key: fake.api_key or "", events, base_delay=0.01)
    inbox = Inbox(db)
    pairing = PairingStore(db)
    platform_cfg = SimpleNamespace(dm_policy="pairing", allow_from=list(allow_from))
    channel = FeedChannel(platform_cfg)
    policy = AccessPolicy({"telegram": platform_cfg}, pairing, events)
    runner = TurnRunner(inbox, History(db), router, config.assistant, events, policy)
    engine = Engine(inbox, runner, {"telegram": channel}, events, workers=workers, grace=1.0)
    gw_cfg = GatewayConfig(port=0, **gateway)
    gw = Gateway(gw_cfg, lambda: ready_report(engine))
    control = gateway_control.build(gw, config=gw_cfg, paths=paths, secrets=secrets, db=db,
                                    engine=engine, router=router, pairing=pairing,
                                    events=events)
    await gw.start()
    await control.start()
    await engine.start()
    notifier = asyncio.create_task(notify_paired(pairing, {"telegram": channel}, events, 0.05))
    try:
        yield Harness(paths, db, secrets, events, engine, channel, pairing, gw, control)
    finally:
        notifier.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await notifier
        await engine.stop()
        await control.stop()
        await gw.stop()
        db.close()


class WsClient:
    """A minimal protocol client for tests: requests by id, events collected in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.responses: dict[Any, dict[str, Any]] = {}
        self._ids = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = msg.json()
            if frame["type"] == "event":
                self.events.append(frame)
            else:
                self.responses[frame["id"]] = frame

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response frame."""
        self._ids += 1
        request_id = self._ids
        await self.ws.send_json({"type": "req", "id": request_id, "method": method,
                                 "params": params or {}})
        return await wait_until(lambda: self.responses.get(request_id), what=method)  # type: ignore[no-any-return]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def connected(h: Harness, token: str | None = None) -> AsyncIterator[WsClient]:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            h.ws_url, headers={"Authorization": f"Bearer {token or h.token()}"})
        client = WsClient(ws)
        try:
            yield client
        finally:
            await client.close()
