"""A WhatsApp channel running in the test's event loop: real gateway, real inbox, fake Graph."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from assistant_cli.channels.base import ChannelContext
from assistant_cli.channels.whatsapp import WhatsAppChannel
from assistant_cli.config.models import GatewayConfig, WhatsAppConfig
from assistant_cli.domain.events import EventBus, Subscription
from assistant_cli.gateway.server import Gateway
from assistant_cli.paths import Paths
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from tests.fakes.whatsapp_server import (
    ACCESS_TOKEN,
    API_VERSION,
    APP_SECRET,
    BUSINESS_ID,
    DISPLAY_NUMBER,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    FakeGraph,
    signed,
)
from tests.inbox_sink import InboxSink

FAST_BACKOFF = (0.05, 0.1, 0.2, 0.4)


def whatsapp_config(graph: FakeGraph, **overrides: Any) -> WhatsAppConfig:
    values: dict[str, Any] = dict(
        business_id=BUSINESS_ID, phone_number=DISPLAY_NUMBER, phone_number_id=PHONE_NUMBER_ID,
        access_token=ACCESS_TOKEN, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
        graph_base_url=graph.base_url, api_version=API_VERSION)
    values.update(overrides)
    return WhatsAppConfig(**values)


@dataclass
class Harness:
    channel: WhatsAppChannel
    gateway: Gateway
    db: Database
    inbox: Inbox
    events: Subscription
    client: httpx.AsyncClient

    @property
    def url(self) -> str:
        return f"{self.gateway.url}/webhooks/whatsapp"

    async def post(self, payload: Any, *, app_secret: str = APP_SECRET,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        raw, signed_headers = signed(payload, app_secret)
        return await self.client.post(self.url, content=raw,
                                      headers=signed_headers if headers is None else headers)

    def stored(self) -> list[tuple[Any, ...]]:
        rows = self.db.execute(
            "SELECT external_id, sender_id, sender_name, kind, text FROM inbox ORDER BY id")
        return [tuple(r) for r in rows.fetchall()]

    def event_names(self) -> list[str]:
        names = []
        while not self.events.queue.empty():
            names.append(self.events.queue.get_nowait().name)
        return names


@contextlib.asynccontextmanager
async def running_channel(graph: FakeGraph, home: Path, *, start: bool = True,
                          max_body: int = 1_000_000, **overrides: Any
                          ) -> AsyncIterator[Harness]:
    """Gateway + channel (+ start) with literal secrets and a fast Graph back-off."""
    paths = Paths(config_file=home / "config.yaml", state_dir=home / "state")
    paths.ensure_state_dir()
    db = Database(paths.database)
    bus = EventBus()
    gateway = Gateway(GatewayConfig(port=0, max_body_bytes=max_body), lambda: {"ready": True})
    ctx = ChannelContext(resolve_secret=lambda ref, key: ref, paths=paths, events=bus,
                         request_stop=lambda: None, web_app=gateway.app)
    channel = WhatsAppChannel(whatsapp_config(graph, **overrides), ctx)
    await channel.prepare()
    assert channel.graph is not None
    channel.graph.backoff = FAST_BACKOFF
    inbox = Inbox(db)
    await gateway.start()
    client = httpx.AsyncClient(timeout=5)
    try:
        if start:
            await channel.start(InboxSink(inbox))
        yield Harness(channel, gateway, db, inbox, bus.subscribe(), client)
    finally:
        await client.aclose()
        await channel.stop()
        await gateway.stop()
        db.close()
